/**
 * change_password's limits beyond the one per address and email: one user's
 * reset limit, shared with PasswordReset and checked before a code is
 * stored, and a limit per address over all emails. The server trusts the
 * loopback peer as a proxy, so X-Forwarded-For names each call's client.
 */
import fs from "node:fs";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { NotificationType } from "@zitadel/proto/zitadel/user/v2/password_pb.js";
import { UserService } from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANGE_PASSWORD_ANSWER } from "../src/auth0/change_password.js";
import { DEFAULT_CONNECTION } from "../src/command/org/connection.js";
import { UserEvents } from "../src/command/user/events.js";
import { DEFAULT_RATE_LIMITS } from "../src/ratelimit/rules.js";
import { runCli } from "./support/cli.js";
import { addUser, eventsOfType } from "./support/notification.js";
import { startTestServer, tempDir, type TestServer } from "./support/server.js";

const PER_USER = 10;
const PER_ADDRESS = 20;
const CONFIG = {
  trustedProxies: ["127.0.0.1"],
  rateLimits: {
    ...DEFAULT_RATE_LIMITS,
    resetPerUser: { points: PER_USER, periodSeconds: 3600 },
    changePasswordPerIp: { points: PER_ADDRESS, periodSeconds: 3600 },
  },
};

const dataDir = tempDir("latchkey-cp-limits-");
let server: TestServer;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer({ dataDir, config: CONFIG });
  const out = await runCli(["app", "add", "--name", "shop", "--data-dir", dataDir]);
  expect(out).toMatchObject({ code: 0 });
  clientId = out.stdout.trim();
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Every reset started in the background has run once the server has closed. */
async function restart(): Promise<void> {
  await server.close();
  server = await startTestServer({ dataDir, config: CONFIG });
}

async function changePassword(email: string, from: string) {
  const res = await fetch(`${server.url}/dbconnections/change_password`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": from },
    body: JSON.stringify({ client_id: clientId, email, connection: DEFAULT_CONNECTION }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
}

const codesAdded = async (userId: string) =>
  eventsOfType(await server.server.app.store.readAggregate({ type: "user", id: userId }), UserEvents.passwordCodeAdded).length;
const uniqueEmail = (name: string) => `${name}-${Math.random().toString(36).slice(2)}@example.com`;

describe("one user's reset limit on change_password", () => {
  it("stores at most its codes for one email called from three addresses, and answers the same", async () => {
    const email = uniqueEmail("flood");
    const { userId } = await addUser(server.url, server.adminToken, { email });
    const statuses: number[] = [];
    for (const from of ["198.51.100.2", "198.51.100.3", "198.51.100.4"]) {
      for (let i = 0; i < 12; i++) {
        const res = await changePassword(email, from);
        statuses.push(res.status);
        // the per address and email limit (10 at once) answers the last two of each address
        if (i < 10) expect(res.body).toBe(CHANGE_PASSWORD_ANSWER);
      }
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(30);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);

    await restart();
    expect(await codesAdded(userId)).toBe(PER_USER);
  });

  it("is the same limit PasswordReset counts: together they store at most its codes", async () => {
    const email = uniqueEmail("shared");
    const { userId } = await addUser(server.url, server.adminToken, { email });
    // a client per call: the server's port changes with the restart
    const reset = () =>
      createClient(UserService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })).passwordReset(
        { userId, medium: { case: "sendLink", value: { notificationType: NotificationType.Email } } },
        { headers: { authorization: `Bearer ${server.adminToken}` } },
      );
    for (let i = 0; i < 4; i++) await reset();
    for (let i = 0; i < 10; i++) expect((await changePassword(email, "198.51.100.5")).status).toBe(200);

    await restart();
    expect(await codesAdded(userId)).toBe(PER_USER);
    // the user's limit is spent, by both entry points
    const refused = await reset().catch((err: unknown) => ConnectError.from(err));
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((refused as ConnectError).rawMessage).toMatch(/^Too many password reset messages for this user/);
  });
});

describe("change_password per client address", () => {
  it("refuses calls past the limit over all emails, unknown ones too; another address is not affected", async () => {
    const from = "198.51.100.6";
    for (let i = 1; i <= PER_ADDRESS; i++) {
      const res = await changePassword(uniqueEmail("nobody"), from);
      expect(res.status).toBe(200);
      expect(res.body).toBe(CHANGE_PASSWORD_ANSWER);
      // the address's limit is closer to refusing than the address and email's (10)
      if (i > PER_ADDRESS - 10) expect(res.headers.get("x-ratelimit-remaining")).toBe(String(PER_ADDRESS - i));
    }
    const refused = await changePassword(uniqueEmail("nobody"), from);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: "too_many_requests", error_description: expect.stringMatching(/^Too many requests from this address, try again in \d+ s$/) });
    expect(refused.headers.get("x-ratelimit-limit")).toBe(String(PER_ADDRESS));
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(3600);

    const other = await changePassword(uniqueEmail("nobody"), "198.51.100.7");
    expect(other.status).toBe(200);
    expect(other.headers.get("x-ratelimit-remaining")).toBe("9");
  });
});
