/** Server reflection: buf curl without proto files, and the protocol itself through a gRPC client. */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, createFileRegistry, fromBinary, getExtension, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { http } from "../gen/google/api/annotations_pb.js";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { useTestServer } from "./support/server.js";

const repositoryRoot = fileURLToPath(new URL("..", import.meta.url));
const bufBinary = path.join(repositoryRoot, "node_modules", ".bin", "buf");
const TIMEOUT = 60_000;


const server = useTestServer();

/** Runs `buf curl` with no schema but the server's reflection; never from the repository, so it cannot find our protos. */
async function bufCurl(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(bufBinary, ["curl", ...args], { cwd: server.dataDir, timeout: TIMEOUT });
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failure.code !== "number") throw error;
    return { exitCode: failure.code, stdout: failure.stdout ?? "", stderr: failure.stderr ?? "" };
  }
}

async function addUser(): Promise<string> {
  const res = await fetch(`${server.url}/v2/users/human`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.adminToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ profile: { givenName: "A", familyName: "B" }, email: { email: `reflect-${Math.random()}@example.com` } }),
  });
  return ((await res.json()) as { userId: string }).userId;
}

const USER_SERVICE_METHODS = ["v2", "v2beta"].flatMap((version) =>
  ["AddHumanUser", "DeactivateUser", "DeleteUser", "GetUserByID", "LockUser", "PasswordReset", "ReactivateUser", "SetPassword", "UnlockUser"].map((m) => `zitadel.user.${version}.UserService/${m}`),
);

describe("buf curl with reflection", () => {
  it.each([
    ["gRPC", ["--protocol", "grpc", "--http2-prior-knowledge"]],
    ["Connect", ["--protocol", "connect"]],
  ])(
    "--list-methods over %s lists the UserService methods, health and reflection",
    async (_name, flags) => {
      const result = await bufCurl(...flags, "--list-methods", server.url);
      expect(result.exitCode, result.stderr).toBe(0);
      const methods = result.stdout.trim().split("\n");
      expect(methods).toEqual(expect.arrayContaining([...USER_SERVICE_METHODS, "grpc.health.v1.Health/Check", "grpc.reflection.v1.ServerReflection/ServerReflectionInfo"]));
    },
    TIMEOUT,
  );

  it.each(["grpc-v1", "grpc-v1alpha"])(
    "--reflect-protocol %s works",
    async (protocol) => {
      const result = await bufCurl("--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", protocol, "--list-methods", server.url);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain("zitadel.user.v2.UserService/PasswordReset");
    },
    TIMEOUT,
  );

  it(
    "calls PasswordReset over gRPC, then over Connect",
    async () => {
      const userId = await addUser();
      const call = (flags: string[]) =>
        bufCurl(...flags, "-H", `Authorization: Bearer ${server.adminToken}`, "-d", JSON.stringify({ userId, returnCode: {} }), `${server.url}/zitadel.user.v2.UserService/PasswordReset`);

      const grpc = await call(["--protocol", "grpc", "--http2-prior-knowledge"]);
      expect(grpc.exitCode, grpc.stderr).toBe(0);
      expect(JSON.parse(grpc.stdout)).toMatchObject({ details: { sequence: "2" }, verificationCode: expect.stringMatching(/^[A-Z0-9]{6}$/) });

      const connect = await call(["--protocol", "connect"]);
      expect(connect.exitCode, connect.stderr).toBe(0);
      expect(JSON.parse(connect.stdout)).toMatchObject({ details: { sequence: "3" }, verificationCode: expect.stringMatching(/^[A-Z0-9]{6}$/) });
    },
    TIMEOUT,
  );

  it(
    "an unknown user is not_found with the ErrorDetail",
    async () => {
      const result = await bufCurl("--protocol", "grpc", "--http2-prior-knowledge", "-H", `Authorization: Bearer ${server.adminToken}`, "-d", '{"userId":"nobody"}', `${server.url}/zitadel.user.v2.UserService/PasswordReset`);
      expect(result.exitCode).not.toBe(0);
      expect(JSON.parse(result.stderr)).toMatchObject({ code: "not_found", details: [{ type: "zitadel.v1.ErrorDetail" }] });
    },
    TIMEOUT,
  );
});

describe.each([
  ["v1", v1.ServerReflection, v1.ServerReflectionRequestSchema],
  ["v1alpha", v1alpha.ServerReflection, v1alpha.ServerReflectionRequestSchema],
] as const)("grpc.reflection.%s through a gRPC client", (_version, service, requestSchema) => {
  type Request = MessageInitShape<typeof v1.ServerReflectionRequestSchema>;

  /** Sends the requests on one stream and collects the answers. */
  async function reflect(...requests: Request[]) {
    const client = createClient(service as typeof v1.ServerReflection, createGrpcTransport({ baseUrl: server.url }));
    async function* send() {
      for (const r of requests) yield create(requestSchema as typeof v1.ServerReflectionRequestSchema, r);
    }
    const answers = [];
    for await (const res of client.serverReflectionInfo(send())) answers.push(res.messageResponse);
    return answers;
  }

  const fileNames = (answer: Awaited<ReturnType<typeof reflect>>[number]) =>
    answer.case === "fileDescriptorResponse" ? answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name) : [];

  it("needs no token and lists the services", async () => {
    const [answer] = await reflect({ messageRequest: { case: "listServices", value: "" } });
    expect(answer?.case === "listServicesResponse" && answer.value.service.map((s) => s.name).sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "zitadel.user.v2.UserService",
      "zitadel.user.v2beta.UserService",
    ]);
  });

  it("the file of a service comes with every dependency, enough to rebuild the schema with its http rules", async () => {
    const [answer] = await reflect({ messageRequest: { case: "fileContainingSymbol", value: "zitadel.user.v2.UserService" } });
    expect(answer?.case).toBe("fileDescriptorResponse");
    if (answer?.case !== "fileDescriptorResponse") return;
    const files = answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(files[0]!.name).toBe("zitadel/user/v2/user_service.proto");
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining(["google/protobuf/timestamp.proto", "google/protobuf/descriptor.proto", "google/api/annotations.proto", "buf/validate/validate.proto"]),
    );
    // the asked-for file comes first, as clients expect; a FileDescriptorSet wants dependencies first
    const ordered: typeof files = [];
    const visit = (name: string) => {
      if (ordered.some((f) => f.name === name)) return;
      const file = files.find((f) => f.name === name)!;
      file.dependency.forEach(visit);
      ordered.push(file);
    };
    visit(files[0]!.name);
    expect(ordered).toHaveLength(files.length);
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
    const reset = registry.getService("zitadel.user.v2.UserService")!.methods.find((m) => m.name === "PasswordReset")!;
    expect(reset.input.field.sendLink!.jsonName).toBe("sendLink");
    expect(getExtension(reset.proto.options!, http).pattern).toEqual({ case: "post", value: "/v2/users/{user_id}/password_reset" });
  });

  it("a method, a message and a file name find their files; files already sent on the stream are not sent again", async () => {
    const answers = await reflect(
      { messageRequest: { case: "fileContainingSymbol", value: "zitadel.user.v2.UserService.PasswordReset" } },
      { messageRequest: { case: "fileContainingSymbol", value: "zitadel.object.v2.Details" } },
      { messageRequest: { case: "fileByFilename", value: "zitadel/user/v2/user.proto" } },
    );
    expect(fileNames(answers[0]!)[0]).toBe("zitadel/user/v2/user_service.proto");
    expect(fileNames(answers[1]!)).toEqual(["zitadel/object/v2/object.proto"]);
    expect(fileNames(answers[2]!)).toEqual(["zitadel/user/v2/user.proto"]);
  });

  it("extensions: the file of one, and the numbers of a type", async () => {
    const [file, numbers] = await reflect(
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 72295728 } } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.MethodOptions" } },
    );
    expect(fileNames(file!)[0]).toBe("google/api/annotations.proto");
    expect(numbers).toMatchObject({ case: "allExtensionNumbersResponse", value: { baseTypeName: "google.protobuf.MethodOptions", extensionNumber: [72295728] } });
  });

  it("unknown names are NOT_FOUND error responses, and the stream goes on", async () => {
    const answers = await reflect(
      { messageRequest: { case: "fileByFilename", value: "nope.proto" } },
      { messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } },
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 1 } } },
      { messageRequest: { case: "listServices", value: "" } },
    );
    expect(answers.slice(0, 3).map((a) => a.case === "errorResponse" && a.value.errorCode)).toEqual([5, 5, 5]);
    expect(answers[3]!.case).toBe("listServicesResponse");
  });
});
