import { create, createFileRegistry, isMessage, type DescService } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { HumanUserSchema as ZitadelHumanUserSchema } from "@zitadel/proto/zitadel/user/v2/user_pb.js";
import { describe, expect, it } from "vitest";
import { HumanUserSchema } from "../gen/zitadel/user/v2/user_pb.js";
import { PasswordResetRequestSchema, PasswordResetResponseSchema, SetPasswordRequestSchema, UserService } from "../gen/zitadel/user/v2/user_service_pb.js";
import { PasswordResetRequestSchema as V2betaPasswordResetRequestSchema, UserService as UserServiceV2beta } from "../gen/zitadel/user/v2beta/user_service_pb.js";
import { twinService } from "../src/api/twin_service.js";
import { wireDifferences } from "../src/api/wire_shape.js";

/** The parts of a google.protobuf.FieldDescriptorProto these tests set. */
interface FieldInit {
  name: string;
  number: number;
  jsonName?: string;
  type?: Type;
  typeName?: string;
  label?: Label;
  oneofIndex?: number;
  proto3Optional?: boolean;
}

// protoc fills in JSON names; descriptors built by hand must say them
const jsonName = (name: string) => name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
const string = (name: string, number: number, more: Partial<FieldInit> = {}): FieldInit => ({
  name,
  jsonName: jsonName(name),
  number,
  type: Type.STRING,
  label: Label.OPTIONAL,
  ...more,
});
const message = (name: string, number: number, typeName: string, more: Partial<FieldInit> = {}): FieldInit => ({
  ...string(name, number),
  type: Type.MESSAGE,
  typeName,
  ...more,
});

/**
 * A file of package `pkg` with a service Twin (method Get: Req -> Res) and the
 * given fields of Req; ".PKG." in type names becomes the package.
 */
function twinFile(pkg: string, reqFields: FieldInit[], extraMessages: { name: string; field: FieldInit[] }[] = [], enumValues: string[] = ["NONE", "ONE"]) {
  const local = (fields: FieldInit[]) => fields.map((f) => ({ ...f, ...(f.typeName && { typeName: f.typeName.replace(".PKG.", `.${pkg}.`) }) }));
  const proto = create(FileDescriptorProtoSchema, {
    name: `${pkg}/twin.proto`,
    package: pkg,
    syntax: "proto3",
    dependency: ["google/protobuf/timestamp.proto"],
    messageType: [
      { name: "Req", field: local(reqFields), oneofDecl: [{ name: "choice" }] },
      { name: "Res", field: [string("id", 1)] },
      ...extraMessages.map((m) => ({ ...m, field: local(m.field) })),
    ],
    enumType: [{ name: "Kind", value: enumValues.map((name, number) => ({ name, number })) }],
    service: [{ name: "Twin", method: [{ name: "Get", inputType: `.${pkg}.Req`, outputType: `.${pkg}.Res` }] }],
  });
  const registry = createFileRegistry(proto, (name) => (name === file_google_protobuf_timestamp.proto.name ? file_google_protobuf_timestamp : undefined));
  return { req: registry.getMessage(`${pkg}.Req`)!, service: registry.getService(`${pkg}.Twin`)! };
}

const differencesOf = (a: FieldInit[], b: FieldInit[], extra: { name: string; field: FieldInit[] }[] = []) =>
  wireDifferences(twinFile("a", a, extra).req, twinFile("b", b, extra).req);

describe("wireDifferences", () => {
  it("finds none between a message and its namesake in another package", () => {
    expect(differencesOf([string("id", 1), message("when", 2, ".google.protobuf.Timestamp")], [string("id", 1), message("when", 2, ".google.protobuf.Timestamp")])).toEqual([]);
  });

  it("finds a field one side lacks, from either side", () => {
    expect(differencesOf([string("id", 1), string("extra", 2)], [string("id", 1)])).toEqual(["a.Req: b.Req has no field 2 (extra)"]);
    expect(differencesOf([string("id", 1)], [string("id", 1), string("extra", 2)])).toEqual(["a.Req: has no field 2 (b.Req.extra)"]);
  });

  it("finds a different name, JSON name, type, oneof or presence of the same number", () => {
    const lines = (a: FieldInit, b: FieldInit) => differencesOf([a], [b]);
    expect(lines(string("id", 1), string("user_id", 1))).toEqual(expect.arrayContaining([expect.stringContaining('name "id" is not "user_id"')]));
    expect(lines(string("user_id", 1), string("user_id", 1, { jsonName: "userID" }))).toEqual(['a.Req.user_id: json name "userId" is not "userID"']);
    expect(lines(string("id", 1), string("id", 1, { type: Type.BYTES }))).toEqual(['a.Req.id: type "STRING" is not "BYTES"']);
    expect(lines(string("id", 1), string("id", 1, { label: Label.REPEATED }))).toEqual(['a.Req.id: kind "scalar" is not "list"']);
    expect(lines(string("id", 1), string("id", 1, { oneofIndex: 0 }))).toEqual(expect.arrayContaining([expect.stringContaining('oneof undefined is not "choice"')]));
    expect(lines(string("id", 1), message("id", 1, ".google.protobuf.Timestamp"))).toContain('a.Req.id: kind "scalar" is not "message"');
    expect(lines(string("id", 1), string("id", 1, { proto3Optional: true, oneofIndex: 0 }))).toContain('a.Req.id: presence "IMPLICIT" is not "EXPLICIT"');
  });

  it("compares the messages fields carry, recursively, and stops at a recursive one", () => {
    const node = (pkgField: FieldInit[]) => [{ name: "Node", field: [string("name", 1), message("child", 2, ".PKG.Node"), ...pkgField] }];
    expect(wireDifferences(twinFile("a", [message("root", 1, ".PKG.Node")], node([])).req, twinFile("b", [message("root", 1, ".PKG.Node")], node([])).req)).toEqual([]);
    const deeper = wireDifferences(
      twinFile("a", [message("root", 1, ".PKG.Node")], node([])).req,
      twinFile("b", [message("root", 1, ".PKG.Node")], node([string("extra", 3)])).req,
    );
    expect(deeper).toEqual(["a.Node: has no field 3 (b.Node.extra)"]);
  });

  it("compares enums by the number and name of each value", () => {
    const kind = (values: string[]) => twinFile("x", [{ name: "kind", number: 1, type: Type.ENUM, typeName: ".x.Kind", label: Label.OPTIONAL }], [], values).req;
    expect(wireDifferences(kind(["NONE", "ONE"]), kind(["NONE", "ONE"]))).toEqual([]);
    expect(wireDifferences(kind(["NONE", "ONE"]), kind(["NONE", "One"]))).toEqual(['x.Kind: values (x.Kind) "0=NONE 1=ONE" is not "0=NONE 1=One"']);
    expect(wireDifferences(kind(["NONE", "ONE"]), kind(["NONE", "ONE", "TWO"]))).toHaveLength(1);
  });

  it("needs the very same well-known type", () => {
    const extra = [{ name: "Timestamp", field: [{ name: "seconds", number: 1, type: Type.INT64, label: Label.OPTIONAL }, { name: "nanos", number: 2, type: Type.INT32, label: Label.OPTIONAL }] }];
    expect(differencesOf([message("when", 1, ".google.protobuf.Timestamp")], [message("when", 1, ".PKG.Timestamp")], extra)).toEqual([
      "google.protobuf.Timestamp is not b.Timestamp",
    ]);
  });

  it("on real descriptors: v2 and v2beta requests agree; ZITADEL's v2 HumanUser has a field ours lacks", () => {
    expect(wireDifferences(V2betaPasswordResetRequestSchema, PasswordResetRequestSchema)).toEqual([]);
    expect(wireDifferences(HumanUserSchema, ZitadelHumanUserSchema)).toEqual(["zitadel.user.v2.HumanUser: has no field 11 (zitadel.user.v2.HumanUser.mfa_init_skipped)"]);
    expect(wireDifferences(PasswordResetRequestSchema, SetPasswordRequestSchema).length).toBeGreaterThan(0);
  });
});

describe("twinService", () => {
  const context = (service: DescService): HandlerContext =>
    createHandlerContext({ service, method: service.methods[0]!, protocolName: "test", requestMethod: "POST", url: "http://localhost/" });

  it("the v2beta UserService: every method has a v2 namesake with the same messages, so every one is served", () => {
    const impl = Object.fromEntries(UserService.methods.map((m) => [m.localName, () => create(m.output)]));
    const served = twinService(UserServiceV2beta, UserService, impl);
    expect(Object.keys(served).sort()).toEqual(UserServiceV2beta.methods.map((m) => m.localName).sort());
    for (const method of UserServiceV2beta.methods) {
      const twin = UserService.methods.find((m) => m.name === method.name);
      expect(twin, method.name).toBeDefined();
      expect([...wireDifferences(method.input, twin!.input), ...wireDifferences(method.output, twin!.output)]).toEqual([]);
    }
  });

  it("hands the twin's handler its own request type and answers with the service's, field for field, with the same context", async () => {
    let seen: { request: unknown; ctx: HandlerContext } | undefined;
    const served = twinService(UserServiceV2beta, UserService, {
      passwordReset(request, ctx) {
        seen = { request, ctx };
        return { details: { sequence: 7n, resourceOwner: "org" }, verificationCode: `${request.userId}/${request.medium.case}` };
      },
    });
    const ctx = context(UserServiceV2beta);
    const request = create(V2betaPasswordResetRequestSchema, { userId: "u1", medium: { case: "returnCode", value: {} } });
    const answer = await served.passwordReset!(request, ctx);
    expect(isMessage(seen?.request, PasswordResetRequestSchema)).toBe(true);
    expect(seen?.ctx).toBe(ctx);
    expect(isMessage(answer, UserServiceV2beta.method.passwordReset.output)).toBe(true);
    expect(answer).toMatchObject({ details: { sequence: 7n, resourceOwner: "org" }, verificationCode: "u1/returnCode" });
    expect(isMessage(answer, PasswordResetResponseSchema)).toBe(false);
  });

  it("lets the twin's errors through as they are", async () => {
    const error = new Error("refused");
    const served = twinService(UserServiceV2beta, UserService, {
      getUserByID() {
        throw error;
      },
    });
    await expect(served.getUserByID!(create(UserServiceV2beta.method.getUserByID.input, { userId: "u" }), context(UserServiceV2beta))).rejects.toBe(error);
  });

  it("leaves out what the twin's implementation leaves out", () => {
    expect(Object.keys(twinService(UserServiceV2beta, UserService, { lockUser: () => ({}) }))).toEqual(["lockUser"]);
  });

  it("refuses to build when a pair of messages differs on the wire", () => {
    const a = twinFile("a", [string("id", 1)]).service;
    const b = twinFile("b", [string("id", 1), string("extra", 2)]).service;
    expect(() => twinService(a, b, { get: () => ({}) } as never)).toThrow("a.Twin/Get and b.Twin/Get differ on the wire:\na.Req: has no field 2 (b.Req.extra)");
  });
});
