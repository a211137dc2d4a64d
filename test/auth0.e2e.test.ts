/**
 * Auth0's POST /dbconnections/change_password through the real curl binary,
 * with a real SMTP server receiving the mails, and its rate limit.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANGE_PASSWORD_ANSWER } from "../src/auth0/change_password.js";
import { DEFAULT_CONNECTION } from "../src/command/org/connection.js";
import { emailLookup } from "../src/command/user/commands.js";
import { UserEvents } from "../src/command/user/events.js";
import { runCli } from "./support/cli.js";
import { allClients, type TestClient } from "./support/clients.js";
import { addUser, eventsOfType, startSmtpServer, waitUntil, type TestSmtpServer } from "./support/notification.js";
import { startTestServer, type TestServer } from "./support/server.js";

/** The server trusts this address as a proxy; curl sends from it with --interface. */
const PROXY = "127.0.0.2";

let smtp: TestSmtpServer;
let server: TestServer;
let client: TestClient;
let clientId: string;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({
    config: { smtpUrl: `smtp://127.0.0.1:${smtp.port}?tls.rejectUnauthorized=false`, notifyPollMs: 20, trustedProxies: [PROXY] },
  });
  client = allClients(server.url)[1]!;
  const out = await runCli(["app", "add", "--name", "shop", "--data-dir", server.dataDir]);
  expect(out).toMatchObject({ code: 0, stderr: "" });
  expect(out.stdout).toMatch(/^[A-Za-z0-9]{32}\n$/);
  clientId = out.stdout.trim();
});

afterAll(async () => {
  client?.close();
  await server?.close();
  await smtp?.close();
});

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: any;
}

async function curl(args: string[]): Promise<CurlResult> {
  const { stdout } = await promisify(execFile)("curl", ["-s", "-i", ...args]);
  const end = stdout.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = stdout.slice(0, end).split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  const rest = stdout.slice(end + 4);
  return { status: Number(statusLine!.split(" ")[1]), headers, body: rest === "" ? undefined : JSON.parse(rest) };
}

/** POSTs the fields as JSON to change_password, as Auth0's documentation does with curl. */
function changePassword(fields: Record<string, unknown>, ...args: string[]): Promise<CurlResult> {
  return curl([
    "--request", "POST",
    "--url", `${server.url}/dbconnections/change_password`,
    "--header", "content-type: application/json",
    "--data", JSON.stringify({ client_id: clientId, connection: DEFAULT_CONNECTION, ...fields }),
    ...args,
  ]);
}

const events = (userId: string) => server.server.app.store.readAggregate({ type: "user", id: userId });
const codesAdded = async (userId: string) => eventsOfType(await events(userId), UserEvents.passwordCodeAdded).length;
const mailTo = (address: string) => smtp.received.filter((m) => m.recipients.includes(address));
const uniqueEmail = (name: string) => `${name}-${Math.random().toString(36).slice(2)}@example.com`;

/** The link of the newest mail to an address, on the test server (the mail names --external-url). */
async function linkIn(address: string): Promise<URL> {
  const mail = await waitUntil(() => mailTo(address).at(-1), `mail to ${address}`);
  const link = new URL(/http:\/\/localhost:8080\/ui\/login\/password\/init\?\S+/.exec(mail.email.text ?? "")![0]);
  return new URL(link.pathname + link.search, server.url);
}

function expectAuth0Error(res: CurlResult, status: number, description: string | RegExp) {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body)).toEqual(["error", "error_description"]);
  expect(res.body.error_description).toMatch(description);
}

describe("change_password", () => {
  it("mails a known user a link whose code sets the password", async () => {
    const email = uniqueEmail("ada");
    const { userId, orgId } = await addUser(server.url, server.adminToken, { email });
    const res = await changePassword({ email });

    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.body).toBe("We've just sent you an email to reset your password.");
    expect(res.headers["x-ratelimit-limit"]).toBe("10");
    expect(res.headers["x-ratelimit-remaining"]).toBe("9");

    const link = await linkIn(email);
    expect(Object.fromEntries(link.searchParams)).toEqual({ userID: userId, code: expect.stringMatching(/^[A-Z0-9]{6}$/), orgID: orgId });
    expect((await fetch(link)).status).toBe(200);
    const set = await client.call("setPassword", {
      userId,
      newPassword: { password: "Auth0-Moved-1" },
      verification: { case: "verificationCode", value: link.searchParams.get("code")! },
    });
    expect(set.ok).toBe(true);
    // the application that asked is recorded as the editor of the reset
    const [added] = eventsOfType(await events(userId), UserEvents.passwordCodeAdded);
    expect(added!.editor).toMatch(/^\d{18}$/);
  });

  it("answers the same for an unknown email, and sends nothing", async () => {
    const unknown = uniqueEmail("nobody");
    const res = await changePassword({ email: unknown });
    expect(res.status).toBe(200);
    expect(res.body).toBe(CHANGE_PASSWORD_ANSWER);
    expect(res.headers["x-ratelimit-remaining"]).toBe("9");

    // a later reset's mail has arrived, so the first would have too
    const known = uniqueEmail("known");
    await addUser(server.url, server.adminToken, { email: known });
    await changePassword({ email: known });
    await linkIn(known);
    expect(mailTo(unknown)).toEqual([]);
  });

  it("finds the address whatever the case of its ASCII letters", async () => {
    const email = uniqueEmail("grace");
    await addUser(server.url, server.adminToken, { email });
    expect((await changePassword({ email: email.toUpperCase() })).status).toBe(200);
    await linkIn(email);
  });

  it("sends nothing for a deleted user", async () => {
    const email = uniqueEmail("gone");
    const { userId, orgId } = await addUser(server.url, server.adminToken, { email });
    expect(await server.server.app.store.findLookup(emailLookup(orgId, email))).toEqual([userId]);
    expect((await client.call("deleteUser", { userId }, server.adminToken)).ok).toBe(true);
    expect(await server.server.app.store.findLookup(emailLookup(orgId, email))).toEqual([]);
    expect((await changePassword({ email })).body).toBe(CHANGE_PASSWORD_ANSWER);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await codesAdded(userId)).toBe(0);
  });

  it("puts the organization into the link when it is given", async () => {
    const email = uniqueEmail("org");
    const { orgId } = await addUser(server.url, server.adminToken, { email });
    expect((await changePassword({ email, organization: orgId })).status).toBe(200);
    const link = await linkIn(email);
    expect(link.searchParams.get("organization_id")).toBe(orgId);
    expect(link.searchParams.get("organization_name")).toBe("default");
  });

  it("reaches another organization's users through its connection only", async () => {
    const orgId = (await runCli(["org", "add", "--name", "acme", "--data-dir", server.dataDir])).stdout.trim();
    const named = await runCli(["connection", "set", "--org", orgId, "--name", "acme-users", "--data-dir", server.dataDir]);
    expect(named).toMatchObject({ code: 0, stdout: "acme-users\n" });
    const email = uniqueEmail("acme");
    const out = await client.call("addHumanUser", { organization: { org: { case: "orgId", value: orgId } }, profile: { givenName: "A", familyName: "B" }, email: { email } }, server.adminToken);
    expect(out.ok).toBe(true);

    expect((await changePassword({ email })).status).toBe(200); // default connection: not this user's
    expect((await changePassword({ email, connection: "acme-users" })).status).toBe(200);
    await linkIn(email);
    expect(mailTo(email)).toHaveLength(1);
    expectAuth0Error(await changePassword({ email, connection: "acme-users", organization: "1" }), 400, "connection acme-users does not belong to organization 1");
  });

  it("refuses what Auth0 refuses, in Auth0's error shape", async () => {
    const email = uniqueEmail("bad");
    expectAuth0Error(await changePassword({ email, password: "" }), 400, "password is not allowed");
    expectAuth0Error(await changePassword({ email, password: "Secret-1" }), 400, "password is not allowed");
    expectAuth0Error(await changePassword({}), 400, "email is required");
    expectAuth0Error(await changePassword({ email, connection: undefined }), 400, "connection is required");
    expectAuth0Error(await changePassword({ email, connection: "Nope" }), 400, "connection Nope does not exist");
    const unknownClient = await changePassword({ email, client_id: "not-a-client" });
    expectAuth0Error(unknownClient, 400, "client_id does not name a registered application");
    expect(unknownClient.body.error).toBe("invalid_client");
    expectAuth0Error(await curl(["-X", "GET", `${server.url}/dbconnections/change_password`]), 405, /only POST/);
    // nothing of that was counted
    expect((await changePassword({ email })).headers["x-ratelimit-remaining"]).toBe("9");
  });

  it("refuses a browser origin the application does not allow", async () => {
    const res = await changePassword({ email: uniqueEmail("cors") }, "-H", "Origin: https://evil.example");
    expectAuth0Error(res, 403, "Origin https://evil.example is not allowed for this application");
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("change_password's rate limit", () => {
  it("counts down per IP and email, and refuses the 11th within the minute without sending", async () => {
    const email = uniqueEmail("flood");
    const { userId } = await addUser(server.url, server.adminToken, { email });
    const before = Math.floor(Date.now() / 1000);
    const remaining: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await changePassword({ email });
      expect(res.status).toBe(200);
      remaining.push(res.headers["x-ratelimit-remaining"]!);
      const reset = Number(res.headers["x-ratelimit-reset"]);
      expect(reset).toBeGreaterThan(before);
      // at most the burst window (600 s) after the call, rounded up to the second
      expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 600);
    }
    expect(remaining).toEqual(["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]);
    await waitUntil(async () => (await codesAdded(userId)) === 10, "10 resets");

    const refused = await changePassword({ email });
    expectAuth0Error(refused, 429, /^Too many requests for this email address, try again in \d+ s$/);
    expect(refused.body.error).toBe("too_many_requests");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(refused.headers).toMatchObject({ "x-ratelimit-limit": "10", "x-ratelimit-remaining": "0" });

    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await codesAdded(userId)).toBe(10);
    // another address from the same IP is counted on its own
    expect((await changePassword({ email: uniqueEmail("other") })).status).toBe(200);
  });

  it("is not escaped with a made-up X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    const email = uniqueEmail("spoof");
    for (let i = 1; i <= 10; i++) {
      expect((await changePassword({ email }, "-H", `X-Forwarded-For: 198.51.100.${i}`)).status).toBe(200);
    }
    expect((await changePassword({ email }, "-H", "X-Forwarded-For: 198.51.100.99")).status).toBe(429);
  });

  it("counts the client a trusted proxy names in X-Forwarded-For", async () => {
    const email = uniqueEmail("proxied");
    const viaProxy = (client: string) => changePassword({ email }, "--interface", PROXY, "-H", `X-Forwarded-For: 203.0.113.77, ${client}`);
    for (let i = 0; i < 10; i++) expect((await viaProxy("198.51.100.7")).status).toBe(200);
    expect((await viaProxy("198.51.100.7")).status).toBe(429);
    const other = await viaProxy("198.51.100.8");
    expect(other.status).toBe(200);
    expect(other.headers["x-ratelimit-remaining"]).toBe("9");
    // the proxy itself, without a header, is a client of its own
    expect((await changePassword({ email }, "--interface", PROXY)).headers["x-ratelimit-remaining"]).toBe("9");
  });
});
