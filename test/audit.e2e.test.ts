/**
 * Who asked and from where, end to end: resets and code checks over gRPC,
 * gRPC-web, Connect, REST (behind a trusted proxy and from an untrusted peer)
 * and Auth0's endpoint, then `latchkey audit` through the binary.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../src/crypto/tokens.js";
import { DEFAULT_CONNECTION } from "../src/command/org/connection.js";
import { UserEvents } from "../src/command/user/events.js";
import { runCli } from "./support/cli.js";
import { allClients, type TestClient } from "./support/clients.js";
import { addUser, eventsOfType, waitUntil } from "./support/notification.js";
import { startTestServer, type TestServer } from "./support/server.js";

/** The server trusts this address as a proxy; requests are sent from it with localAddress. */
const PROXY = "127.0.0.2";
/** The client a proxy names in X-Forwarded-For. */
const FORWARDED = "198.51.100.23";
const SPOOFED = "203.0.113.66";
const PASSWORD = "Audit-Trail-42";
const USER_AGENT = "audit-test/1.0 (rest)";

let server: TestServer;
let clients: TestClient[];
let adminId: string;

beforeAll(async () => {
  server = await startTestServer({ config: { trustedProxies: [PROXY] } });
  clients = allClients(server.url);
  adminId = (await server.server.app.authenticate(hashToken(server.adminToken)))!.userId;
});

afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await server?.close();
});

/** A JSON POST from `localAddress` (127.0.0.1 unless the proxy's). */
function post(path: string, body: unknown, options: { token?: string; headers?: Record<string, string>; localAddress?: string } = {}) {
  const url = new URL(path, server.url);
  const data = JSON.stringify(body);
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        localAddress: options.localAddress ?? "127.0.0.1",
        headers: {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(data)),
          ...(options.token && { authorization: `Bearer ${options.token}` }),
          ...options.headers,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode!, body: text === "" ? undefined : JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

async function audit(userId: string, ...flags: string[]) {
  return runCli(["audit", "--user", userId, "--data-dir", server.dataDir, ...flags]);
}

/**
 * Columns of the text lines: time, sequence, what, who, from where. The
 * notifier's records (of messages it sent, at its own pace) are left out.
 */
function parseLines(stdout: string) {
  return stdout
    .trimEnd()
    .split("\n")
    .map((line) => {
      const m = /^(\S+) {2}#(\d+) +(.+?) +by (\S+)(?: \(the user\))? +from (\S+)$/.exec(line);
      if (!m) throw new Error(`unexpected line: ${line}`);
      return { time: m[1]!, sequence: Number(m[2]), what: m[3]!, who: m[4]!, from: m[5]! };
    })
    .filter((line) => line.who !== "notification");
}

const jsonLines = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.editor !== "notification");

function expectNoSecrets(text: string, ...secrets: string[]) {
  for (const secret of [...secrets, PASSWORD, "argon2", server.adminToken]) expect(text).not.toContain(secret);
}

describe("latchkey audit", () => {
  it("over gRPC, gRPC-web and Connect: reset by the token's user, wrong and right code by the user, all from 127.0.0.1", async () => {
    const [grpc, connectJson, grpcWeb] = clients;
    const { userId } = await addUser(server.url, server.adminToken);
    const reset = await grpc!.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, server.adminToken);
    if (!reset.ok) throw new Error(reset.message);
    const code = reset.value.verificationCode!;
    const wrong = code === "AAAAAA" ? "BBBBBB" : "AAAAAA";
    const set = (client: TestClient, value: string) =>
      client.call("setPassword", { userId, newPassword: { password: PASSWORD }, verification: { case: "verificationCode", value } });
    expect(await set(grpcWeb!, wrong)).toMatchObject({ ok: false });
    expect(await set(connectJson!, wrong)).toMatchObject({ ok: false });
    expect(await set(grpc!, code)).toMatchObject({ ok: true });

    const out = await audit(userId);
    expect(out).toMatchObject({ code: 0, stderr: "" });
    expect(parseLines(out.stdout).map(({ sequence, what, who, from }) => ({ sequence, what, who, from }))).toEqual([
      { sequence: 1, what: expect.stringMatching(/^human user created \(username /), who: adminId, from: "-" },
      { sequence: 2, what: "password reset requested (code returned to the caller)", who: adminId, from: "127.0.0.1" },
      { sequence: 3, what: "code check failed (attempt 1 of 5)", who: userId, from: "127.0.0.1" },
      { sequence: 4, what: "code check failed (attempt 2 of 5)", who: userId, from: "127.0.0.1" },
      { sequence: 5, what: "password changed with a code", who: userId, from: "127.0.0.1" },
    ]);
    expect(out.stdout).toMatch(new RegExp(`#3 .* by ${userId} \\(the user\\)`));
    expectNoSecrets(out.stdout, code);

    const json = await audit(userId, "--json");
    expect(json.code).toBe(0);
    const entries = jsonLines(json.stdout);
    expect(entries[2]).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      sequence: 3,
      event: UserEvents.passwordCodeCheckFailed,
      what: "code check failed (attempt 1 of 5)",
      editor: userId,
      clientIp: "127.0.0.1",
      userAgent: expect.stringMatching(/connect-es|grpc/),
    });
    expectNoSecrets(json.stdout, code);
  });

  it("over REST: X-Forwarded-For names the client behind a trusted proxy and is ignored from anyone else", async () => {
    const { userId } = await addUser(server.url, server.adminToken);
    const viaProxy = { localAddress: PROXY, headers: { "x-forwarded-for": FORWARDED, "user-agent": USER_AGENT } };
    const reset = await post(`/v2/users/${userId}/password_reset`, { returnCode: {} }, { token: server.adminToken, ...viaProxy });
    expect(reset.status).toBe(200);
    const code = reset.body.verificationCode as string;
    const wrong = code === "AAAAAA" ? "BBBBBB" : "AAAAAA";
    expect((await post(`/v2/users/${userId}/password`, { newPassword: { password: PASSWORD }, verificationCode: wrong }, viaProxy)).status).toBe(400);
    const direct = { headers: { "x-forwarded-for": SPOOFED } };
    expect((await post(`/v2/users/${userId}/password`, { newPassword: { password: PASSWORD }, verificationCode: code }, direct)).status).toBe(200);

    const out = await audit(userId);
    expect(out).toMatchObject({ code: 0, stderr: "" });
    expect(parseLines(out.stdout).slice(1).map(({ what, who, from }) => [what, who, from])).toEqual([
      ["password reset requested (code returned to the caller)", adminId, FORWARDED],
      ["code check failed (attempt 1 of 5)", userId, FORWARDED],
      ["password changed with a code", userId, "127.0.0.1"],
    ]);
    expect(out.stdout).not.toContain(SPOOFED);
    expectNoSecrets(out.stdout, code);

    const json = jsonLines((await audit(userId, "--json")).stdout);
    expect(json[1]).toMatchObject({ editor: adminId, clientIp: FORWARDED, userAgent: USER_AGENT });
    expect(json[3]).toMatchObject({ event: UserEvents.passwordChanged, clientIp: "127.0.0.1" });
  });

  it("a token's user who sends the code is recorded as who asked", async () => {
    const { userId } = await addUser(server.url, server.adminToken);
    const reset = await post(`/v2/users/${userId}/password_reset`, { returnCode: {} }, { token: server.adminToken });
    const code = reset.body.verificationCode as string;
    expect((await post(`/v2/users/${userId}/password`, { newPassword: { password: PASSWORD }, verificationCode: code }, { token: server.adminToken })).status).toBe(200);
    const [changed] = parseLines((await audit(userId)).stdout).slice(-1);
    expect(changed).toMatchObject({ what: "password changed with a code", who: adminId, from: "127.0.0.1" });
  });

  it("Auth0's change_password: the application asked, from the client its proxy names", async () => {
    const app = await runCli(["app", "add", "--name", "audit-shop", "--data-dir", server.dataDir]);
    expect(app.code).toBe(0);
    const email = `grace-${Math.random().toString(36).slice(2)}@example.com`;
    const { userId } = await addUser(server.url, server.adminToken, { email });
    const res = await post("/dbconnections/change_password", { client_id: app.stdout.trim(), connection: DEFAULT_CONNECTION, email }, { localAddress: PROXY, headers: { "x-forwarded-for": FORWARDED } });
    expect(res.status).toBe(200);
    const [added] = await waitUntil(async () => {
      const found = eventsOfType(await server.server.app.store.readAggregate({ type: "user", id: userId }), UserEvents.passwordCodeAdded);
      return found.length > 0 && found;
    }, "the reset");

    const line = parseLines((await audit(userId)).stdout).find((l) => l.sequence === added!.sequence);
    expect(line).toMatchObject({ what: "password reset requested (email link)", who: added!.editor, from: FORWARDED });
    expect(added!.editor).not.toBe(adminId);
  });

  it("an unknown user is exit code 1 with one line on stderr", async () => {
    const out = await audit("999999999999999999");
    expect(out).toEqual({ code: 1, stdout: "", stderr: 'latchkey: no user with id "999999999999999999"\n' });
  });
});
