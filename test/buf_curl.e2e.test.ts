import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/zitadel/v1/message_pb.js";
import { useTestServer } from "./support/server.js";

const repositoryRoot = fileURLToPath(new URL("..", import.meta.url));
const bufBinary = path.join(repositoryRoot, "node_modules", ".bin", "buf");

// buf compiles the schema on every call, so each call takes a moment.
const TIMEOUT = 60_000;

type Protocol = "grpc" | "connect";

interface BufCurlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}


const server = useTestServer();

/** Runs `buf curl` with our schema; the server has no reflection service. */
async function bufCurl(protocol: Protocol, method: string, body: object, token: string): Promise<BufCurlResult> {
  const args = [
    "curl",
    "--schema",
    "proto",
    "--protocol",
    protocol,
    "--http2-prior-knowledge",
    "-H",
    `Authorization: Bearer ${token}`,
    "-d",
    JSON.stringify(body),
    `http://127.0.0.1:${server.port}/${method}`,
  ];
  try {
    const { stdout, stderr } = await promisify(execFile)(bufBinary, args, { cwd: repositoryRoot, timeout: TIMEOUT });
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failure.code !== "number") throw error;
    return { exitCode: failure.code, stdout: failure.stdout ?? "", stderr: failure.stderr ?? "" };
  }
}

async function addHumanUser(): Promise<string> {
  const response = await fetch(`${server.url}/zitadel.user.v2.UserService/AddHumanUser`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Connect-Protocol-Version": "1",
      Authorization: `Bearer ${server.adminToken}`,
    },
    body: JSON.stringify({
      profile: { givenName: "A", familyName: "B" },
      email: { email: `buf-curl-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com` },
    }),
  });
  const body = (await response.json()) as { userId?: string };
  if (!response.ok || !body.userId) throw new Error(`AddHumanUser failed: ${response.status} ${JSON.stringify(body)}`);
  return body.userId;
}

function passwordReset(protocol: Protocol, userId: string): Promise<BufCurlResult> {
  return bufCurl(protocol, "zitadel.user.v2.UserService/PasswordReset", { userId, returnCode: {} }, server.adminToken);
}

interface PasswordResetJson {
  details?: { sequence?: string };
  verificationCode?: string;
}

describe("buf curl PasswordReset with a returned code", () => {
  let userId: string;

  beforeAll(async () => {
    userId = await addHumanUser();
  }, TIMEOUT);

  it(
    "over gRPC: the first reset of a fresh user has sequence 2 and a 6-character code",
    async () => {
      const result = await passwordReset("grpc", userId);
      expect(result.exitCode, result.stderr).toBe(0);
      const response = JSON.parse(result.stdout) as PasswordResetJson;
      expect(response.details?.sequence).toBe("2");
      expect(response.verificationCode).toMatch(/^[A-Z0-9]{6}$/);
    },
    TIMEOUT,
  );

  it(
    "over Connect: the next reset of the same user has sequence 3",
    async () => {
      const result = await passwordReset("connect", userId);
      expect(result.exitCode, result.stderr).toBe(0);
      const response = JSON.parse(result.stdout) as PasswordResetJson;
      expect(response.details?.sequence).toBe("3");
      expect(response.verificationCode).toMatch(/^[A-Z0-9]{6}$/);
    },
    TIMEOUT,
  );
});

describe("buf curl PasswordReset for an unknown user", () => {
  it.each<Protocol>(["grpc", "connect"])(
    "over %s: fails with not_found and the ZITADEL error id",
    async (protocol) => {
      const result = await passwordReset(protocol, "no-such-user");
      expect(result.exitCode).not.toBe(0);

      const output = result.stdout + result.stderr;
      expect(output).toMatch(/not_found|NotFound/);
      expect(output).toContain("COMMAND-SAF4f");

      const error = JSON.parse(result.stderr) as { code: string; details?: { type: string; value: string }[] };
      expect(error.code).toBe("not_found");
      const detail = error.details?.find((candidate) => candidate.type === "zitadel.v1.ErrorDetail");
      expect(detail, "an ErrorDetail in the error details").toBeDefined();
      expect(fromBinary(ErrorDetailSchema, Buffer.from(detail!.value, "base64"))).toMatchObject({
        id: "COMMAND-SAF4f",
        message: "Errors.User.NotFound",
      });
    },
    TIMEOUT,
  );
});
