/**
 * The OpenAPI 3 document of the REST gateway, built from the routes the
 * gateway serves. Property names are the JSON names of the fields.
 */
import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescService, type JsonObject } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { allowsAnonymous } from "../interceptors.js";
import { resolveFieldPath, restRoutes, type RestRoute } from "./routes.js";

const ERROR_RESPONSE = { $ref: "#/components/responses/Error" };

/** Well-known types with a JSON form of their own. */
const WELL_KNOWN: Record<string, JsonObject> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", example: "1.5s" },
  "google.protobuf.FieldMask": { type: "string" },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
};

export function openApiDocument(services: readonly DescService[]): JsonObject {
  const schemas = new Schemas();
  const paths: Record<string, Record<string, JsonObject>> = {};
  const operationIds = new Set<string>();
  const labels = serviceLabels(services);
  for (const route of restRoutes(services)) {
    const { method } = route;
    const label = labels.get(method.parent)!;
    let operationId = `${label}_${method.name}`;
    for (let n = 2; operationIds.has(operationId); n++) operationId = `${label}_${method.name}${n}`;
    operationIds.add(operationId);
    (paths[openApiPath(route)] ??= {})[route.httpMethod.toLowerCase()] = {
      operationId,
      tags: [label],
      ...(route.variables.length + queryFields(route).length > 0 && { parameters: parameters(route, schemas) }),
      ...(route.body !== "" && { requestBody: requestBody(route, schemas) }),
      responses: {
        "200": { description: "OK", content: { "application/json": { schema: schemas.ref(method.output) } } },
        default: ERROR_RESPONSE,
      },
      ...(allowsAnonymous(method) && { security: [{}, { bearerAuth: [] }] }),
    };
  }
  return {
    openapi: "3.0.3",
    info: {
      title: "latchkey",
      version: "v2",
      description:
        "ZITADEL's user API v2 over REST, as served by latchkey, and its v2beta edition under /v2beta/ (the same operations and messages). Errors have the grpc-gateway shape.",
    },
    paths,
    components: {
      schemas: { ...schemas.all, ...ERROR_SCHEMAS },
      responses: {
        Error: {
          description: "An error: its gRPC code, message and details (a zitadel.v1.ErrorDetail with the error id).",
          content: { "application/json": { schema: { $ref: "#/components/schemas/google.rpc.Status" } } },
        },
      },
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "A personal access token." } },
    },
    security: [{ bearerAuth: [] }],
  };
}

/**
 * A service's name in operation ids and tags: its own name, or, for a later
 * service of the same name from another package (zitadel.user.v2beta's
 * UserService after zitadel.user.v2's), the name and that package's version.
 */
function serviceLabels(services: readonly DescService[]): Map<DescService, string> {
  const labels = new Map<DescService, string>();
  const taken = new Set<string>();
  for (const service of services) {
    const label = taken.has(service.name) ? `${service.name}_${service.typeName.split(".").at(-2)}` : service.name;
    taken.add(service.name);
    labels.set(service, label);
  }
  return labels;
}

/** The route's path in OpenAPI form: "/v2/users/{userId}/password_reset". */
export function openApiPath(route: RestRoute): string {
  let i = 0;
  return route.template.replace(/\{[^}]+\}/g, () => `{${jsonPath(route.variables[i++]!)}}`);
}

const jsonPath = (fields: DescField[]) => fields.map((f) => f.jsonName).join(".");

function parameters(route: RestRoute, schemas: Schemas): JsonObject[] {
  return [
    ...route.variables.map((fields) => ({ name: jsonPath(fields), in: "path", required: true, schema: schemas.field(fields.at(-1)!) })),
    ...queryFields(route).map((fields) => ({ name: jsonPath(fields), in: "query", schema: schemas.field(fields.at(-1)!) })),
  ];
}

function requestBody(route: RestRoute, schemas: Schemas): JsonObject {
  const input = route.method.input;
  let schema: JsonObject;
  if (route.body !== "*") {
    schema = schemas.field(resolveFieldPath(input, route.body).at(-1)!);
  } else {
    // path variables are not repeated in the body
    const inPath = new Set(route.variables.filter((v) => v.length === 1).map((v) => v[0]!));
    const name = `${route.method.parent.typeName}.${route.method.name}Body`;
    schema = inPath.size === 0 ? schemas.ref(input) : schemas.named(name, () => schemas.message(input, inPath));
  }
  return { required: true, content: { "application/json": { schema } } };
}

/** Fields that may be set by query parameter: the leaves outside path and body, nested messages flattened. */
function queryFields(route: RestRoute): DescField[][] {
  if (route.body === "*") return [];
  const bound = new Set(route.variables.map((v) => v.at(-1)!));
  if (route.body !== "") bound.add(resolveFieldPath(route.method.input, route.body).at(-1)!);
  const leaves = (message: DescMessage, prefix: DescField[], seen: Set<string>): DescField[][] =>
    message.fields.flatMap((field) => {
      if (bound.has(field)) return [];
      if (field.fieldKind === "map") return [];
      if (field.fieldKind !== "message" || field.message.typeName.startsWith("google.protobuf.")) return [[...prefix, field]];
      if (seen.has(field.message.typeName)) return [];
      return leaves(field.message, [...prefix, field], new Set([...seen, field.message.typeName]));
    });
  return leaves(route.method.input, [], new Set([route.method.input.typeName]));
}

class Schemas {
  readonly all: Record<string, JsonObject> = {};

  ref(desc: DescMessage | DescEnum): JsonObject {
    if (desc.kind === "message" && (WELL_KNOWN[desc.typeName] || isWrapperDesc(desc))) return this.message(desc);
    return this.named(desc.typeName, () => (desc.kind === "enum" ? enumSchema(desc) : this.message(desc)));
  }

  named(name: string, build: () => JsonObject): JsonObject {
    if (!(name in this.all)) {
      this.all[name] = {}; // taken before building, for recursive messages
      this.all[name] = build();
    }
    return { $ref: `#/components/schemas/${name}` };
  }

  message(desc: DescMessage, omit: ReadonlySet<DescField> = new Set()): JsonObject {
    const wellKnown = WELL_KNOWN[desc.typeName];
    if (wellKnown) return wellKnown;
    if (isWrapperDesc(desc)) return scalarSchema(desc.fields[0]!.scalar!);
    const properties: Record<string, JsonObject> = {};
    for (const field of desc.fields) if (!omit.has(field)) properties[field.jsonName] = this.field(field);
    const oneofs = desc.oneofs
      .filter((o) => o.fields.length > 1)
      .map((o) => `At most one of ${o.fields.map((f) => f.jsonName).join(", ")} (oneof ${o.name}).`);
    return { type: "object", ...(oneofs.length > 0 && { description: oneofs.join(" ") }), properties };
  }

  field(field: DescField): JsonObject {
    switch (field.fieldKind) {
      case "scalar":
        return scalarSchema(field.scalar);
      case "enum":
        return this.ref(field.enum);
      case "message":
        return this.ref(field.message);
      case "list":
        return {
          type: "array",
          items: field.listKind === "scalar" ? scalarSchema(field.scalar) : this.ref(field.listKind === "enum" ? field.enum : field.message),
        };
      case "map":
        return {
          type: "object",
          additionalProperties: field.mapKind === "scalar" ? scalarSchema(field.scalar) : this.ref(field.mapKind === "enum" ? field.enum : field.message),
        };
    }
  }
}

function enumSchema(desc: DescEnum): JsonObject {
  return { type: "string", enum: desc.values.map((v) => v.name) };
}

function scalarSchema(scalar: ScalarType): JsonObject {
  switch (scalar) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int64", minimum: 0 };
    // 64-bit integers are strings in JSON
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64" };
  }
}

const ERROR_SCHEMAS: Record<string, JsonObject> = {
  "google.rpc.Status": {
    type: "object",
    properties: {
      code: { type: "integer", format: "int32", description: "The gRPC status code, e.g. 5 for NOT_FOUND." },
      message: { type: "string", description: 'The message, ending with the error id in parentheses: "User could not be found (COMMAND-SAF4f)".' },
      details: { type: "array", items: { $ref: "#/components/schemas/google.protobuf.Any" } },
    },
  },
  "google.protobuf.Any": {
    type: "object",
    description: 'A detail; "@type" names its type, e.g. type.googleapis.com/zitadel.v1.ErrorDetail with "id" and "message" (the i18n key).',
    properties: { "@type": { type: "string" } },
    additionalProperties: true,
  },
};
