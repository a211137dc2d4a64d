/**
 * REST routes derived from the google.api.http option of each method: the
 * single source for the gateway and the OpenAPI document.
 */
import { getExtension, hasExtension, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http } from "../../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../../gen/google/api/http_pb.js";

export type UnaryMethod = DescMethod & { methodKind: "unary" };

export interface RestRoute {
  method: UnaryMethod;
  /** upper case, e.g. "POST" */
  httpMethod: string;
  /** the path template as annotated, e.g. "/v2/users/{user_id}/password_reset" */
  template: string;
  pattern: RegExp;
  /** one per template variable, in order: the field path it sets */
  variables: DescField[][];
  /** "*" (the whole request), a field path (that field), or "" (no body) */
  body: string;
}

export function restRoutes(services: readonly DescService[]): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      const options = method.proto.options;
      if (method.methodKind !== "unary" || !options || !hasExtension(options, http)) continue;
      const rule = getExtension(options, http);
      for (const binding of [rule, ...rule.additionalBindings]) {
        const route = toRoute(method as UnaryMethod, binding);
        if (route) routes.push(route);
      }
    }
  }
  return routes;
}

function toRoute(method: UnaryMethod, rule: HttpRule): RestRoute | undefined {
  const { pattern } = rule;
  let httpMethod: string;
  let template: string;
  switch (pattern.case) {
    case undefined:
      return undefined;
    case "custom":
      httpMethod = pattern.value.kind.toUpperCase();
      template = pattern.value.path;
      break;
    default:
      httpMethod = pattern.case.toUpperCase();
      template = pattern.value;
  }
  const { regex, variables } = compileTemplate(template);
  return {
    method,
    httpMethod,
    template,
    pattern: regex,
    variables: variables.map((path) => resolveFieldPath(method.input, path)),
    body: rule.body,
  };
}

/**
 * Compiles a path template ("/v1/{name=shelves/*}/books:verb") into a regular
 * expression with one capture group per variable.
 */
export function compileTemplate(template: string): { regex: RegExp; variables: string[] } {
  const variables: string[] = [];
  let source = "";
  let rest = 0;
  for (const match of template.matchAll(/\{([\w.]+)(?:=([^}]+))?\}/g)) {
    source += segments(template.slice(rest, match.index));
    source += `(${segments(match[2] ?? "*")})`;
    variables.push(match[1]!);
    rest = match.index + match[0].length;
  }
  source += segments(template.slice(rest));
  return { regex: new RegExp(`^${source}$`), variables };
}

function segments(part: string): string {
  return part
    .split(/(\*\*|\*)/)
    .map((piece) => (piece === "**" ? ".+" : piece === "*" ? "[^/]+" : piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
}

/** The fields along a dotted path of proto or JSON names; throws on a path that names no field. */
export function resolveFieldPath(message: DescMessage, path: string): DescField[] {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of path.split(".")) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === name || f.jsonName === name);
    if (!field) throw new Error(`${message.typeName} has no field ${path}`);
    fields.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return fields;
}
