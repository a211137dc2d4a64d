/**
 * Whether two message types are one and the same on the wire, whatever their
 * package: ZITADEL publishes some services in two versions (v2 and v2beta)
 * whose messages differ only in package, so bytes written for one read
 * correctly as the other.
 */
import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";

/** One line per difference, empty when `a` and `b` read and write the same binary and JSON forms. */
export function wireDifferences(a: DescMessage, b: DescMessage): string[] {
  return compareMessages(a, b, new Set());
}

function compareMessages(a: DescMessage, b: DescMessage, seen: Set<string>): string[] {
  const pair = `${a.typeName}|${b.typeName}`;
  if (seen.has(pair)) return [];
  seen.add(pair);
  // well-known types have a JSON form of their own: the very same type is needed
  if (a.typeName.startsWith("google.protobuf.") || b.typeName.startsWith("google.protobuf.")) {
    return a.typeName === b.typeName ? [] : [`${a.typeName} is not ${b.typeName}`];
  }
  const lines: string[] = [];
  for (const field of a.fields) {
    const other = b.fields.find((f) => f.number === field.number);
    if (!other) lines.push(`${a.typeName}: ${b.typeName} has no field ${field.number} (${field.name})`);
    else lines.push(...compareFields(a.typeName, field, other, seen));
  }
  for (const field of b.fields) {
    if (!a.fields.some((f) => f.number === field.number)) lines.push(`${a.typeName}: has no field ${field.number} (${b.typeName}.${field.name})`);
  }
  return lines;
}

function compareFields(owner: string, a: DescField, b: DescField, seen: Set<string>): string[] {
  const where = `${owner}.${a.name}`;
  const lines = [
    ...differs(where, "name", a.name, b.name),
    ...differs(where, "json name", a.jsonName, b.jsonName),
    ...differs(where, "kind", a.fieldKind, b.fieldKind),
    ...differs(where, "oneof", a.oneof?.name, b.oneof?.name),
    ...differs(where, "presence", FeatureSet_FieldPresence[a.presence], FeatureSet_FieldPresence[b.presence]),
    ...differs(where, "delimited encoding", delimited(a), delimited(b)),
  ];
  if (lines.length > 0) return lines;
  const [ta, tb] = [valueOf(a), valueOf(b)];
  if (a.fieldKind === "map" && b.fieldKind === "map") lines.push(...differs(where, "map key", ScalarType[a.mapKey], ScalarType[b.mapKey]));
  if (typeof ta === "number" || typeof tb === "number") {
    lines.push(...differs(where, "type", typeof ta === "number" ? ScalarType[ta] : ta.typeName, typeof tb === "number" ? ScalarType[tb] : tb.typeName));
  } else if (ta.kind !== tb.kind) {
    lines.push(`${where}: ${ta.typeName} is not ${tb.typeName}`);
  } else if (ta.kind === "message") {
    lines.push(...compareMessages(ta, tb as DescMessage, seen));
  } else {
    lines.push(...compareEnums(ta, tb as DescEnum));
  }
  return lines;
}

/** The scalar type, message or enum a field (singular, repeated or map value) carries. */
function valueOf(field: DescField): ScalarType | DescMessage | DescEnum {
  switch (field.fieldKind) {
    case "scalar":
      return field.scalar;
    case "enum":
      return field.enum;
    case "message":
      return field.message;
    case "list":
      return field.listKind === "scalar" ? field.scalar : field.listKind === "enum" ? field.enum : field.message;
    case "map":
      return field.mapKind === "scalar" ? field.scalar : field.mapKind === "enum" ? field.enum : field.message;
  }
}

const delimited = (field: DescField) => "delimitedEncoding" in field && field.delimitedEncoding === true;

/** Enum values are written by number and, in JSON, by name: both must match. */
function compareEnums(a: DescEnum, b: DescEnum): string[] {
  const values = (e: DescEnum) => e.values.map((v) => `${v.number}=${v.name}`).join(" ");
  return differs(a.typeName, `values (${b.typeName})`, values(a), values(b));
}

function differs(where: string, what: string, a: unknown, b: unknown): string[] {
  return a === b ? [] : [`${where}: ${what} ${JSON.stringify(a)} is not ${JSON.stringify(b)}`];
}
