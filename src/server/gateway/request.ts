/**
 * Builds the request message of a REST call per the protobuf JSON mapping:
 * the body first, then query parameters, then path variables (they win).
 */
import { create, mergeFromJson, ScalarType, type DescField, type JsonObject, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { GatewayError } from "./errors.js";
import { resolveFieldPath, type RestRoute, type UnaryMethod } from "./routes.js";

type Input = MessageShape<UnaryMethod["input"]>;

const invalid = (id: string, text: string) => new GatewayError(Code.InvalidArgument, id, "Errors.Gateway.InvalidRequest", text);

export function requestMessage(route: RestRoute, body: string, captures: string[], query: URLSearchParams): Input {
  const schema = route.method.input;
  const message = create(schema);
  const apply = (json: JsonObject, what: string) => {
    try {
      mergeFromJson(schema, message, json);
    } catch (err) {
      throw invalid("GATEWAY-Fq2x7", `invalid ${what}: ${(err as Error).message}`);
    }
  };

  if (route.body !== "") {
    const json = parseJson(body);
    if (route.body === "*") apply(json === undefined ? {} : (json as JsonObject), "request body");
    else if (json !== undefined) apply(nest(resolveFieldPath(schema, route.body), json), "request body");
  }
  if (route.body !== "*") apply(queryJson(route, query), "query parameter");
  route.variables.forEach((fields, i) => {
    let value: string;
    try {
      value = decodeURIComponent(captures[i]!);
    } catch {
      throw invalid("GATEWAY-Pv8c3", `path segment "${captures[i]}" is not valid percent-encoding`);
    }
    apply(nest(fields, stringJson(fields.at(-1)!, value)), "path");
  });
  return message;
}

/** undefined for an empty body */
function parseJson(body: string): JsonValue | undefined {
  if (body.trim() === "") return undefined;
  try {
    return JSON.parse(body) as JsonValue;
  } catch (err) {
    throw invalid("GATEWAY-Jx4n0", `request body is not valid JSON: ${(err as Error).message}`);
  }
}

function queryJson(route: RestRoute, query: URLSearchParams): JsonObject {
  const json: JsonObject = {};
  for (const key of new Set(query.keys())) {
    let fields: DescField[];
    try {
      fields = resolveFieldPath(route.method.input, key);
    } catch {
      continue; // as grpc-gateway does: it may be meant for something else, a proxy or a cache
    }
    const field = fields.at(-1)!;
    if (field.fieldKind === "map" || (field.fieldKind === "message" && !field.message.typeName.startsWith("google.protobuf."))) {
      throw invalid("GATEWAY-Qk7w1", `query parameter "${key}" does not name a scalar field`);
    }
    const values = query.getAll(key).map((v) => stringJson(field, v));
    merge(json, nest(fields, field.fieldKind === "list" ? values : values.at(-1)!));
  }
  return json;
}

/** {"a": {"b": value}} for the path a.b, keyed by proto names. */
function nest(fields: DescField[], value: JsonValue): JsonObject {
  return fields.reduceRight<JsonValue>((inner, field) => ({ [field.name]: inner }), value) as JsonObject;
}

function merge(target: JsonObject, source: JsonObject): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isObject(existing) && isObject(value)) merge(existing, value);
    else target[key] = value;
  }
}

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** A value given as text (path, query) in the JSON form its field expects. */
function stringJson(field: DescField, value: string): JsonValue {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "enum" && /^-?\d+$/.test(value)) return Number(value);
  if (kind === "scalar" && field.scalar === ScalarType.BOOL) return value === "true" ? true : value === "false" ? false : value;
  return value;
}
