/**
 * PasswordReset's rate limits over gRPC and REST: per target user for resets
 * that send a message, per calling token for all, reported in X-RateLimit-*
 * headers and gRPC metadata, and kept across a restart.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { NotificationType } from "@zitadel/proto/zitadel/user/v2/password_pb.js";
import { UserService } from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readDefaultOrgId } from "../src/command/instance.js";
import { UserEvents } from "../src/command/user/events.js";
import { addUser, eventsOfType } from "./support/notification.js";
import { startTestServer, tempDir, type TestServer } from "./support/server.js";

const LIMITS = {
  enabled: true,
  resetPerUser: { points: 10, periodSeconds: 3600 },
  resetPerToken: { points: 12, periodSeconds: 60 },
};

const dataDir = tempDir("latchkey-ratelimit-");
let server: TestServer;
let grpc: Client<typeof UserService>;

async function start(config: object = { rateLimits: LIMITS }): Promise<void> {
  server = await startTestServer({ dataDir, config });
  grpc = createClient(UserService, createGrpcTransport({ baseUrl: server.url }));
}

beforeAll(() => start());

afterAll(async () => {
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A token of its own, so that the per-token limit of one test leaves the others alone. */
async function newToken(): Promise<string> {
  const orgId = await readDefaultOrgId(server.server.app.store);
  const userId = await server.operator.addMachineUser(orgId, `bot-${Math.random().toString(36).slice(2)}`, "IAM_OWNER");
  return server.operator.addToken(userId);
}

const sendLink = { case: "sendLink" as const, value: { notificationType: NotificationType.Email } };
const returnCode = { case: "returnCode" as const, value: {} };

interface GrpcOutcome {
  ok: boolean;
  code?: Code;
  message?: string;
  /** response headers on success; headers and trailers of the error */
  metadata: Headers;
  verificationCode?: string;
}

async function reset(userId: string, token: string, medium: typeof sendLink | typeof returnCode | undefined = sendLink): Promise<GrpcOutcome> {
  let headers = new Headers();
  try {
    const res = await grpc.passwordReset(
      { userId, ...(medium && { medium }) },
      { headers: { authorization: `Bearer ${token}` }, onHeader: (h) => void (headers = h) },
    );
    return { ok: true, metadata: headers, ...(res.verificationCode !== undefined && { verificationCode: res.verificationCode }) };
  } catch (err) {
    const error = ConnectError.from(err);
    return { ok: false, code: error.code, message: error.rawMessage, metadata: error.metadata };
  }
}

const limitOf = (h: Headers) => ({
  limit: h.get("x-ratelimit-limit"),
  remaining: h.get("x-ratelimit-remaining"),
  reset: h.get("x-ratelimit-reset"),
  retryAfter: h.get("retry-after"),
});

const codesAdded = async (userId: string) =>
  eventsOfType(await server.server.app.store.readAggregate({ type: "user", id: userId }), UserEvents.passwordCodeAdded).length;

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: any;
}

async function curl(path: string, token: string, body: string): Promise<CurlResult> {
  const { stdout } = await promisify(execFile)("curl", ["-s", "-i", `${server.url}${path}`, "-H", `Authorization: Bearer ${token}`, "-H", "Content-Type: application/json", "-d", body]);
  const end = stdout.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = stdout.slice(0, end).split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  return { status: Number(statusLine!.split(" ")[1]), headers, body: JSON.parse(stdout.slice(end + 4)) };
}

let floodedUser: string;
let floodedToken: string;

describe("PasswordReset over gRPC", () => {
  it("refuses the 11th message-sending reset of a user within the hour, while return_code still works", async () => {
    floodedToken = await newToken();
    floodedUser = (await addUser(server.url, server.adminToken)).userId;
    const now = Math.floor(Date.now() / 1000);

    for (let i = 1; i <= 10; i++) {
      const out = await reset(floodedUser, floodedToken, i % 2 === 0 ? sendLink : undefined);
      expect(out.ok).toBe(true);
      // the user's limit is closer to refusing than the token's
      expect(limitOf(out.metadata)).toMatchObject({ limit: "10", remaining: String(10 - i), retryAfter: null });
      expect(Number(out.metadata.get("x-ratelimit-reset"))).toBeGreaterThanOrEqual(now + 3599);
    }

    const refused = await reset(floodedUser, floodedToken);
    expect(refused).toMatchObject({ ok: false, code: Code.ResourceExhausted });
    expect(refused.message).toMatch(/^Too many password reset messages for this user, try again in \d+ s \(RATELIMIT-Rs7q1\)$/);
    expect(limitOf(refused.metadata)).toMatchObject({ limit: "10", remaining: "0" });
    expect(Number(refused.metadata.get("retry-after"))).toBeGreaterThan(3500);
    expect(await codesAdded(floodedUser)).toBe(10);

    const returned = await reset(floodedUser, floodedToken, returnCode);
    expect(returned.ok).toBe(true);
    expect(returned.verificationCode).toMatch(/^[A-Z0-9]{6}$/);
    // return_code is counted only against the token: 12 calls so far
    expect(limitOf(returned.metadata)).toMatchObject({ limit: "12", remaining: "0" });
    expect(await codesAdded(floodedUser)).toBe(11);
  });

  it("refuses a token's 13th reset within the minute, whatever the user", async () => {
    const token = await newToken();
    const { userId } = await addUser(server.url, server.adminToken);
    for (let i = 1; i <= 12; i++) {
      const out = await reset(userId, token, returnCode);
      expect(out.ok).toBe(true);
      expect(limitOf(out.metadata)).toMatchObject({ limit: "12", remaining: String(12 - i) });
    }
    const other = (await addUser(server.url, server.adminToken)).userId;
    const refused = await reset(other, token, returnCode);
    expect(refused).toMatchObject({ ok: false, code: Code.ResourceExhausted });
    expect(refused.message).toMatch(/^Too many password resets with this token, try again in \d+ s/);
    expect(Number(refused.metadata.get("retry-after"))).toBeLessThanOrEqual(60);
    expect(await codesAdded(other)).toBe(0);
    // another token is counted on its own
    expect((await reset(other, await newToken(), returnCode)).ok).toBe(true);
  });

  it("reports the limits on other failures too; a failed reset does not count against the user", async () => {
    const token = await newToken();
    const missing = await reset("999999999999999999", token);
    expect(missing).toMatchObject({ ok: false, code: Code.NotFound });
    expect(limitOf(missing.metadata)).toMatchObject({ limit: "10", remaining: "10" });
    // the user's point came back; the token's did not (now 10 of 12 left as well)
    const again = await reset("999999999999999999", token);
    expect(limitOf(again.metadata)).toMatchObject({ remaining: "10" });

    // without a valid token the call is refused before any limit
    const anonymous = await reset(floodedUser, "not-a-token");
    expect(anonymous).toMatchObject({ ok: false, code: Code.Unauthenticated });
    expect(limitOf(anonymous.metadata)).toMatchObject({ limit: null, remaining: null });
  });
});

describe("PasswordReset over REST", () => {
  it("sends the headers on success and failure, 429 with Retry-After over the limit", async () => {
    const token = await newToken();
    const { userId } = await addUser(server.url, server.adminToken);
    for (let i = 1; i <= 10; i++) {
      const res = await curl(`/v2/users/${userId}/password_reset`, token, "{}");
      expect(res.status).toBe(200);
      expect(res.headers).toMatchObject({ "x-ratelimit-limit": "10", "x-ratelimit-remaining": String(10 - i) });
      expect(res.headers["x-ratelimit-reset"]).toMatch(/^\d{10}$/);
    }
    const refused = await curl(`/v2/users/${userId}/password_reset`, token, '{"send_link":{"notification_type":"NOTIFICATION_TYPE_Email"}}');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: Code.ResourceExhausted, details: [{ id: "RATELIMIT-Rs7q1" }] });
    expect(refused.headers).toMatchObject({ "x-ratelimit-limit": "10", "x-ratelimit-remaining": "0" });
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(3500);
    expect(await codesAdded(userId)).toBe(10);

    const returned = await curl(`/v2/users/${userId}/password_reset`, token, '{"returnCode":{}}');
    expect(returned.status).toBe(200);
    expect(returned.body.verificationCode).toMatch(/^[A-Z0-9]{6}$/);
    expect(returned.headers).toMatchObject({ "x-ratelimit-limit": "12", "x-ratelimit-remaining": "0" });

    const tokenSpent = await curl(`/v2/users/${userId}/password_reset`, token, '{"returnCode":{}}');
    expect(tokenSpent.status).toBe(429);
    expect(tokenSpent.headers).toMatchObject({ "x-ratelimit-limit": "12", "x-ratelimit-remaining": "0" });

    const missing = await curl("/v2/users/999999999999999999/password_reset", await newToken(), "{}");
    expect(missing.status).toBe(404);
    expect(missing.headers).toMatchObject({ "x-ratelimit-limit": "10", "x-ratelimit-remaining": "10" });
  });
});

describe("across a restart", () => {
  it("keeps the counts in the database", async () => {
    await server.close();
    await start();
    const refused = await reset(floodedUser, await newToken());
    expect(refused).toMatchObject({ ok: false, code: Code.ResourceExhausted });
    expect(limitOf(refused.metadata)).toMatchObject({ limit: "10", remaining: "0" });
  });
});

describe("with LATCHKEY_RATE_LIMITS=off", () => {
  it("nothing is limited and no headers are sent", async () => {
    await server.close();
    await start({ rateLimits: { ...LIMITS, enabled: false } });
    for (let i = 0; i < 3; i++) {
      const out = await reset(floodedUser, floodedToken);
      expect(out.ok).toBe(true);
      expect(limitOf(out.metadata)).toMatchObject({ limit: null, remaining: null });
    }
  });
});
