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

// ignoreBOM keeps a byte order mark in the text, so that JSON.parse refuses it as protojson does
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The body's text. Invalid UTF-8 is refused, as protojson does, rather than replaced
 * with U+FFFD: a replaced byte would silently change a user id or a new password.
 */
export function decodeBody(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalid("GATEWAY-Ut8v4", "request body is not valid UTF-8");
  }
}

/** undefined for an empty body */
function parseJson(body: string): JsonValue | undefined {
  if (body.trim() === "") return undefined;
  let json: JsonValue;
  try {
    json = JSON.parse(body) as JsonValue;
  } catch (err) {
    throw invalid("GATEWAY-Jx4n0", `request body is not valid JSON: ${(err as Error).message}`);
  }
  const duplicate = duplicateKey(body);
  if (duplicate !== undefined) {
    throw invalid("GATEWAY-Dk2m6", `request body is not valid JSON: key ${JSON.stringify(duplicate)} appears more than once in an object`);
  }
  return json;
}

/**
 * The first key that occurs twice in one object of valid JSON text, compared after
 * unescaping. JSON.parse keeps the last silently; protojson (grpc-gateway) refuses the
 * body, and a proxy in front that reads the first would see a different request.
 * Iterative, so that deep nesting cannot exhaust the stack.
 */
export function duplicateKey(text: string): string | undefined {
  // per open container: ARRAY, or an object's keys so far (NO_KEYS, the one key, or a set)
  const open: (typeof ARRAY | typeof NO_KEYS | string | Set<string>)[] = [];
  let atKey = false;
  const tokens = /["{}[\],]/g;
  for (let m = tokens.exec(text); m !== null; m = tokens.exec(text)) {
    switch (m[0]) {
      case '"': {
        const start = m.index;
        const end = closingQuote(text, start + 1);
        tokens.lastIndex = end + 1;
        const keys = open.at(-1);
        if (atKey && keys !== undefined && keys !== ARRAY) {
          const raw = text.slice(start + 1, end);
          const key = raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
          if (keys === NO_KEYS) open[open.length - 1] = key;
          else if (typeof keys === "string") {
            if (keys === key) return key;
            open[open.length - 1] = new Set([keys, key]);
          } else {
            if (keys.has(key)) return key;
            keys.add(key);
          }
        }
        atKey = false;
        break;
      }
      case "{":
        open.push(NO_KEYS);
        atKey = true;
        break;
      case "[":
        open.push(ARRAY);
        atKey = false;
        break;
      case "}":
      case "]":
        open.pop();
        atKey = false;
        break;
      case ",":
        atKey = open.length > 0 && open.at(-1) !== ARRAY;
        break;
    }
  }
  return undefined;
}

const ARRAY = Symbol("array");
const NO_KEYS = Symbol("no keys");

/** The index of the quote that ends the string whose text starts at `from`. */
function closingQuote(text: string, from: number): number {
  for (let quote = text.indexOf('"', from); ; quote = text.indexOf('"', quote + 1)) {
    if (quote === -1) return text.length;
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === "\\") backslashes++;
    if (backslashes % 2 === 0) return quote;
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
