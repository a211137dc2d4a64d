import { isDeepStrictEqual } from "node:util";
import {
  createRegistry,
  getExtension,
  hasExtension,
  ScalarType,
  type DescEnum,
  type DescEnumValue,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
  type Registry,
} from "@bufbuild/protobuf";
import type { MethodOptions } from "@bufbuild/protobuf/wkt";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { http as zitadelHttp } from "@zitadel/proto/google/api/annotations_pb.js";
import { file_zitadel_message as zitadelMessageFile } from "@zitadel/proto/zitadel/message_pb.js";
import {
  SetPasswordRequestSchema as ZitadelSetPasswordRequestSchema,
  file_zitadel_user_v2_user_service as zitadelUserServiceFile,
} from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import { file_zitadel_user_v2beta_user_service as zitadelUserServiceV2betaFile } from "@zitadel/proto/zitadel/user/v2beta/user_service_pb.js";
import { describe, expect, it } from "vitest";
import { http as ourHttp } from "../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../gen/google/api/http_pb.js";
import { GenderSchema, UserStateSchema } from "../gen/zitadel/user/v2/user_pb.js";
import {
  PasswordResetRequestSchema,
  file_zitadel_user_v2_user_service as ourUserServiceFile,
} from "../gen/zitadel/user/v2/user_service_pb.js";
import { file_zitadel_user_v2beta_user_service as ourUserServiceV2betaFile } from "../gen/zitadel/user/v2beta/user_service_pb.js";
import { ErrorDetailSchema, file_zitadel_v1_message as ourMessageFile } from "../gen/zitadel/v1/message_pb.js";

// ---------------------------------------------------------------------------
// Collecting what we declare

/** The root files and, transitively, every dependency that matches `keep`. */
function collectFiles(roots: DescFile[], keep: (file: DescFile) => boolean = () => true): DescFile[] {
  const files = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (files.has(file.name)) return;
    files.set(file.name, file);
    for (const dependency of file.dependencies) if (keep(dependency)) visit(dependency);
  };
  roots.forEach(visit);
  return [...files.values()];
}

const ourFiles = collectFiles([ourUserServiceFile, ourUserServiceV2betaFile, ourMessageFile], (file) => file.proto.package.startsWith("zitadel."));

// Every file ZITADEL's descriptors pull in, so that any type name we reference can be resolved.
const zitadel: Registry = createRegistry(...collectFiles([zitadelUserServiceFile, zitadelUserServiceV2betaFile, zitadelMessageFile]));

function declared<T extends DescMessage | DescEnum | DescService>(kind: T["kind"]): T[] {
  return ourFiles.flatMap((file) => [...nestedTypes(file)].filter((type): type is T => type.kind === kind));
}

/** The message or enum a field carries, whether singular, repeated or a map value. */
function fieldTarget(field: DescField): DescMessage | DescEnum | undefined {
  switch (field.fieldKind) {
    case "message":
      return field.message;
    case "enum":
      return field.enum;
    case "list":
      return field.listKind === "message" ? field.message : field.listKind === "enum" ? field.enum : undefined;
    case "map":
      return field.mapKind === "message" ? field.message : field.mapKind === "enum" ? field.enum : undefined;
    case "scalar":
      return undefined;
  }
}

/** Messages and enums reachable from `roots` through message fields, without entering google.protobuf. */
function reachableTypes(roots: DescMessage[]): { messages: DescMessage[]; enums: DescEnum[] } {
  const messages = new Map<string, DescMessage>();
  const enums = new Map<string, DescEnum>();
  const visit = (message: DescMessage) => {
    if (message.typeName.startsWith("google.protobuf.") || messages.has(message.typeName)) return;
    messages.set(message.typeName, message);
    for (const field of message.fields) {
      const target = fieldTarget(field);
      if (target?.kind === "message") visit(target);
      else if (target?.kind === "enum") enums.set(target.typeName, target);
    }
  };
  roots.forEach(visit);
  return { messages: [...messages.values()], enums: [...enums.values()] };
}

function uniqueByTypeName<T extends { typeName: string }>(items: T[]): T[] {
  return [...new Map(items.map((item) => [item.typeName, item])).values()];
}

const ourServices = declared<DescService>("service");
const ourMethods = ourServices.flatMap((service) => service.methods);
const reachable = reachableTypes([...ourMethods.flatMap((method) => [method.input, method.output]), ErrorDetailSchema]);
const ourMessages = uniqueByTypeName([...reachable.messages, ...declared<DescMessage>("message")]);
const ourEnums = uniqueByTypeName([...reachable.enums, ...declared<DescEnum>("enum")]);

// ---------------------------------------------------------------------------
// Comparing descriptors

/** One line per property that differs, e.g. `json name: ours "userId", ZITADEL "userID"`. */
function differences<T extends object>(ours: T, theirs: T): string[] {
  return (Object.keys(ours) as (keyof T & string)[])
    .filter((key) => !isDeepStrictEqual(ours[key], theirs[key]))
    .map((key) => `${key}: ours ${JSON.stringify(ours[key])}, ZITADEL ${JSON.stringify(theirs[key])}`);
}

function valueType(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return ScalarType[field.scalar];
    case "enum":
      return field.enum.typeName;
    case "message":
      return field.message.typeName;
    case "list":
      if (field.listKind === "scalar") return ScalarType[field.scalar];
      return field.listKind === "enum" ? field.enum.typeName : field.message.typeName;
    case "map": {
      const value =
        field.mapKind === "scalar" ? ScalarType[field.scalar] : field.mapKind === "enum" ? field.enum.typeName : field.message.typeName;
      return `map<${ScalarType[field.mapKey]}, ${value}>`;
    }
  }
}

function fieldShape(field: DescField) {
  return {
    number: field.number,
    name: field.name,
    "json name": field.jsonName,
    kind: field.fieldKind,
    type: valueType(field),
    repeated: field.fieldKind === "list",
    oneof: field.oneof?.name,
    "proto3 optional": field.proto.proto3Optional,
  };
}

/** Fields are matched by number, the identity of a field on the binary wire. */
function fieldDifferences(ours: DescField, theirs: DescMessage): string[] {
  const match = theirs.fields.find((field) => field.number === ours.number);
  if (!match) return [`ZITADEL's ${theirs.typeName} has no field number ${ours.number}`];
  return differences(fieldShape(ours), fieldShape(match));
}

function messageDifferences(ours: DescMessage, theirs: DescMessage): string[] {
  return ours.fields.flatMap((field) => fieldDifferences(field, theirs).map((line) => `${field.name}: ${line}`));
}

function enumValueDifferences(ours: DescEnumValue, theirs: DescEnum): string[] {
  const match = theirs.values.find((value) => value.number === ours.number);
  if (!match) return [`ZITADEL's ${theirs.typeName} has no value number ${ours.number} (ours: ${ours.name})`];
  return match.name === ours.name ? [] : [`value ${ours.number}: ours ${ours.name}, ZITADEL ${match.name}`];
}

function enumDifferences(ours: DescEnum, theirs: DescEnum): string[] {
  return ours.values.flatMap((value) => enumValueDifferences(value, theirs));
}

type RuleLike = Pick<HttpRule, "pattern" | "body" | "responseBody">;

function httpShape(rule: RuleLike | undefined) {
  if (!rule) return undefined;
  const { pattern } = rule;
  return {
    verb: pattern.case === "custom" ? pattern.value.kind : pattern.case,
    path: pattern.case === "custom" ? pattern.value.path : pattern.value,
    body: rule.body,
    responseBody: rule.responseBody,
  };
}

function methodShape(method: DescMethod, rule: RuleLike | undefined) {
  return {
    name: method.name,
    input: method.input.typeName,
    output: method.output.typeName,
    kind: method.methodKind,
    http: httpShape(rule),
  };
}

function ourMethodShape(method: DescMethod) {
  const options: MethodOptions | undefined = method.proto.options;
  return methodShape(method, options && hasExtension(options, ourHttp) ? getExtension(options, ourHttp) : undefined);
}

function zitadelMethodShape(method: DescMethod) {
  const options: MethodOptions | undefined = method.proto.options;
  return methodShape(method, options && hasExtension(options, zitadelHttp) ? getExtension(options, zitadelHttp) : undefined);
}

function zitadelMethod(ours: DescMethod): DescMethod | undefined {
  return zitadel.getService(ours.parent.typeName)?.methods.find((method) => method.name === ours.name);
}

function zitadelMessage(typeName: string): DescMessage {
  const message = zitadel.getMessage(typeName);
  if (!message) throw new Error(`ZITADEL has no message ${typeName}`);
  return message;
}

// ---------------------------------------------------------------------------
// Tables

describe("what we declare", () => {
  it("includes the UserService methods and the messages behind them", () => {
    expect(ourServices.map((service) => service.typeName)).toContain("zitadel.user.v2.UserService");
    expect(ourMethods.map((method) => method.name)).toContain("PasswordReset");
    expect(ourMessages.map((message) => message.typeName)).toEqual(
      expect.arrayContaining(["zitadel.user.v2.PasswordResetRequest", "zitadel.object.v2.Details", "zitadel.v1.ErrorDetail"]),
    );
    expect(ourEnums.map((type) => type.typeName)).toContain("zitadel.user.v2.NotificationType");
  });

  it("includes the v2beta UserService with every v2 method, and its own messages", () => {
    const methodsOf = (typeName: string) => ourMethods.filter((method) => method.parent.typeName === typeName).map((method) => method.name);
    expect(methodsOf("zitadel.user.v2beta.UserService").sort()).toEqual(methodsOf("zitadel.user.v2.UserService").sort());
    expect(ourMessages.map((message) => message.typeName)).toEqual(
      expect.arrayContaining(["zitadel.user.v2beta.PasswordResetRequest", "zitadel.user.v2beta.User", "zitadel.object.v2beta.Details"]),
    );
    expect(ourEnums.map((type) => type.typeName)).toEqual(expect.arrayContaining(["zitadel.user.v2beta.NotificationType", "zitadel.user.v2beta.UserState"]));
  });
});

describe("services", () => {
  it.each(ourServices.map((service) => [service.typeName]))("%s exists in ZITADEL", (typeName) => {
    expect(zitadel.getService(typeName), `ZITADEL has no service ${typeName}`).toBeDefined();
  });

  it.each(ourMethods.map((method) => [`${method.parent.typeName}/${method.name}`, method] as const))(
    "%s has ZITADEL's name, types, streaming kind and HTTP rule",
    (_name, method) => {
      const theirs = zitadelMethod(method);
      expect(theirs, `ZITADEL has no method ${method.parent.typeName}/${method.name}`).toBeDefined();
      expect(differences(ourMethodShape(method), zitadelMethodShape(theirs!))).toEqual([]);
    },
  );
});

describe("messages", () => {
  it.each(ourMessages.map((message) => [message.typeName]))("%s exists in ZITADEL", (typeName) => {
    expect(zitadel.getMessage(typeName), `ZITADEL has no message ${typeName}`).toBeDefined();
  });

  const fieldRows = ourMessages.flatMap((message) => message.fields.map((field) => [message.typeName, field.name, field] as const));

  it.each(fieldRows)("%s.%s matches ZITADEL's field", (typeName, _name, field) => {
    expect(fieldDifferences(field, zitadelMessage(typeName))).toEqual([]);
  });
});

describe("enums", () => {
  const valueRows = ourEnums.flatMap((type) => type.values.map((value) => [type.typeName, value.name, value] as const));

  it.each(valueRows)("%s.%s has ZITADEL's name and number", (typeName, _name, value) => {
    const theirs = zitadel.getEnum(typeName);
    expect(theirs, `ZITADEL has no enum ${typeName}`).toBeDefined();
    expect(enumValueDifferences(value, theirs!)).toEqual([]);
  });
});

describe("the comparison itself", () => {
  it("finds no difference between a message and ZITADEL's of the same name", () => {
    expect(messageDifferences(PasswordResetRequestSchema, zitadelMessage("zitadel.user.v2.PasswordResetRequest"))).toEqual([]);
    expect(messageDifferences(ErrorDetailSchema, zitadelMessage("zitadel.v1.ErrorDetail"))).toEqual([]);
  });

  it("reports each field that differs between two different messages", () => {
    const found = messageDifferences(PasswordResetRequestSchema, ZitadelSetPasswordRequestSchema);
    // user_id = 1 is the same in both; numbers 2 and 3 are different fields.
    expect(found.some((line) => line.startsWith("user_id:"))).toBe(false);
    expect(found).toEqual(
      expect.arrayContaining([
        'send_link: name: ours "send_link", ZITADEL "new_password"',
        'send_link: type: ours "zitadel.user.v2.SendPasswordResetLink", ZITADEL "zitadel.user.v2.Password"',
        'send_link: oneof: ours "medium", ZITADEL undefined',
        'return_code: kind: ours "message", ZITADEL "scalar"',
        'return_code: oneof: ours "medium", ZITADEL "verification"',
      ]),
    );
  });

  it("reports a field number ZITADEL does not have", () => {
    expect(messageDifferences(PasswordResetRequestSchema, zitadelMessage("zitadel.v1.ErrorDetail"))).toContain(
      "return_code: ZITADEL's zitadel.v1.ErrorDetail has no field number 3",
    );
  });

  it("reports enum values whose names differ", () => {
    expect(enumDifferences(GenderSchema, zitadel.getEnum("zitadel.user.v2.UserState")!)).not.toEqual([]);
    expect(enumDifferences(UserStateSchema, zitadel.getEnum("zitadel.user.v2.UserState")!)).toEqual([]);
  });

  it("reports a method whose types and HTTP rule differ", () => {
    const passwordReset = ourMethods.find((method) => method.name === "PasswordReset")!;
    const setPassword = zitadel.getService("zitadel.user.v2.UserService")!.methods.find((method) => method.name === "SetPassword")!;
    const found = differences(ourMethodShape(passwordReset), zitadelMethodShape(setPassword));
    expect(found.map((line) => line.split(":")[0])).toEqual(["name", "input", "output", "http"]);
  });
});
