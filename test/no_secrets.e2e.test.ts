/**
 * What operators see holds no secret: every line the `latchkey` binary writes
 * (stdout and stderr, at log level trace), and what its commands print on
 * stderr, through a scenario that touches every path a secret travels: codes
 * returned and sent by email and SMS, SetPassword with right and wrong codes
 * and passwords, tokens good, bad and malformed, SMTP credentials (accepted
 * and refused), the SMS webhook secret, Auth0's change_password, the
 * encryption keys and a PostgreSQL password. Needs `npm run build`.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, inject, it } from "vitest";
import { CodeCipher } from "../src/crypto/code_cipher.js";
import { runCli, startCliServer, type CliResult } from "./support/cli.js";
import { allClients, type TestClient } from "./support/clients.js";
import { addUser, startSmtpServer, waitUntil, type TestSmtpServer } from "./support/notification.js";
import { createDatabase, dropDatabase } from "./support/postgres.js";
import { tempDir } from "./support/server.js";

const SMTP_USER = "mailer";
// characters that must be percent-encoded in the URL, so its encoded and decoded forms differ
const SMTP_PASS = "Smtp:Secret@Pass/7";
const WRONG_SMTP_PASS = "Wrong:Smtp@Secret/8";
const HOOK_SECRET = "sms-webhook-hmac-secret-42";
const HOOK_URL_PASS = "HookUrlPassword-31";
const PG_PASS = "Pg-Url-Password-55";
const PASSWORDS = ["Correct-Horse-7!", "Second-Choice-8!", "Admin-Chosen-9!", "Never-Right-1!"];
const WEAK_PASSWORD = "weakpassword";
const BOGUS_TOKEN = "bogus-token-Xk2Jq9Lm4Np7Rs1Tv";
const BASIC_CREDENTIALS = Buffer.from("admin:basic-auth-password-63").toString("base64");
const AUTH0_PASSWORD = "Auth0-Forbidden-Password-11";
const MALFORMED_JSON_PASSWORD = "Broken-Json-Password-22";

const dataDir = tempDir("latchkey-secrets-");
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Binary {
  url: string;
  stop(): Promise<number | null>;
}

/** Every line of stdout and stderr of every process, and of every command's stderr. */
const lines: string[] = [];

/** `latchkey start` on a free port; resolves once it listens. Its every line goes to `lines`. */
async function startBinary(env: NodeJS.ProcessEnv): Promise<Binary> {
  const server = await startCliServer(["--data-dir", dataDir], { LATCHKEY_LOG_LEVEL: "trace", ...env }, (line) => lines.push(line));
  children.push(server.process);
  return { url: server.url, stop: () => server.stop() };
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const result = await runCli(args, env);
  lines.push(...result.stderr.split("\n").filter(Boolean));
  return result;
}

/** An SMS webhook that accepts everything. */
async function startHook(): Promise<{ port: number; bodies: string[] }> {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      bodies.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, bodies };
}

function query<T>(sql: string): T[] {
  const db = new Database(path.join(dataDir, "latchkey.db"), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** The notifier has read every event and has no message left to deliver. */
function settled(): boolean {
  const [row] = query<{ jobs: number; checkpoint: number | null; head: number | null }>(
    `SELECT (SELECT count(*) FROM notification_jobs) AS jobs, (SELECT max(position) FROM notification_checkpoints) AS checkpoint,
            (SELECT max(position) FROM events) AS head`,
  );
  return row!.jobs === 0 && row!.checkpoint === row!.head;
}

/** The forms a secret could take on its way into a line. */
function forms(secret: string): string[] {
  const b = Buffer.from(secret, "utf8");
  return [secret, encodeURIComponent(secret), b.toString("base64"), b.toString("base64url"), JSON.stringify(secret).slice(1, -1)];
}

async function fetchText(url: string, init: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.text();
  return res.status;
}

describe("secrets in what operators see", () => {
  // every secret the scenario uses or is given; the last step looks for each in every line
  const secrets: string[] = [SMTP_PASS, WRONG_SMTP_PASS, HOOK_SECRET, HOOK_URL_PASS, PG_PASS, ...PASSWORDS, WEAK_PASSWORD, BOGUS_TOKEN, BASIC_CREDENTIALS, AUTH0_PASSWORD, MALFORMED_JSON_PASSWORD];
  // AUTH PLAIN and AUTH LOGIN as they cross the wire
  for (const pass of [SMTP_PASS, WRONG_SMTP_PASS]) {
    secrets.push(Buffer.from(`\0${SMTP_USER}\0${pass}`).toString("base64"), Buffer.from(pass).toString("base64"));
  }
  const oldKey = randomBytes(32).toString("base64");
  secrets.push(oldKey);
  const common = {
    LATCHKEY_CODE_LENGTH: "10",
    LATCHKEY_NOTIFY_POLL_INTERVAL: "20",
    LATCHKEY_NOTIFY_RETRY_DELAY: "20",
    LATCHKEY_NOTIFY_MAX_ATTEMPTS: "2",
    LATCHKEY_ARGON2_MEMORY: "1024",
    LATCHKEY_RATE_LIMIT_RESET_USER: "1000/h",
    LATCHKEY_ENCRYPTION_KEYS_OLD: oldKey,
  };
  let smtp: TestSmtpServer;
  let hook: Awaited<ReturnType<typeof startHook>>;
  let adminToken: string;
  let key: string;
  let ada: { userId: string; orgId: string };
  let grace: { userId: string; orgId: string };

  it("1. with delivery working: operator commands, resets over every client, SetPassword, refused credentials and bodies, the hosted page, Auth0", { timeout: 90_000 }, async () => {

    smtp = await startSmtpServer({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
    cleanups.push(() => smtp.close());
    hook = await startHook();

    // SMTP with a login, the SMS webhook, the key file the data directory gets
    const first = await startBinary({
      ...common,
      LATCHKEY_SMTP_URL: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASS)}@127.0.0.1:${smtp.port}?tls.rejectUnauthorized=false`,
      LATCHKEY_SMS_WEBHOOK_URL: `http://127.0.0.1:${hook.port}/sms`,
      LATCHKEY_SMS_WEBHOOK_SECRET: HOOK_SECRET,
    });
    adminToken = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim();
    key = fs.readFileSync(path.join(dataDir, "encryption.key"), "utf8").trim();
    secrets.push(adminToken, key, Buffer.from(key, "base64").toString("hex"));

    // operator commands beside the running server
    const org = (await cli(["org", "add", "--name", "acme", "--data-dir", dataDir])).stdout.trim();
    const bot = (await cli(["machine-user", "add", "--org", org, "--username", "acme-bot", "--role", "ORG_OWNER", "--data-dir", dataDir])).stdout.trim();
    const botToken = (await cli(["token", "add", "--user", bot, "--data-dir", dataDir])).stdout.trim();
    const clientId = (await cli(["app", "add", "--name", "shop", "--origin", "http://shop.test", "--data-dir", dataDir])).stdout.trim();
    expect(botToken).not.toBe("");
    expect(clientId).not.toBe("");
    secrets.push(botToken);

    ada = await addUser(first.url, adminToken, { email: "ada@example.com", phone: "+41791234567" });
    grace = await addUser(first.url, adminToken, { email: "grace@example.com" });
    const clients: TestClient[] = allClients(first.url);
    cleanups.push(async () => clients.forEach((c) => c.close()));

    // resets with every medium over every client
    const returned: string[] = [];
    for (const client of clients) {
      const out = await client.call("passwordReset", { userId: ada.userId, medium: { case: "returnCode", value: {} } }, adminToken);
      expect(out.ok, client.name).toBe(true);
      if (out.ok) returned.push(out.value.verificationCode!);
      const link = await client.call(
        "passwordReset",
        { userId: ada.userId, medium: { case: "sendLink", value: { notificationType: 1, urlTemplate: "https://app.test/reset?u={{.UserID}}&c={{.Code}}" } } },
        adminToken,
      );
      expect(link.ok, client.name).toBe(true);
      await waitUntil(settled, "the email");
      expect((await client.call("passwordReset", { userId: ada.userId, medium: { case: "sendLink", value: { notificationType: 2 } } }, adminToken)).ok).toBe(true);
      await waitUntil(settled, "the SMS");
      expect((await client.call("passwordReset", { userId: ada.userId }, adminToken)).ok).toBe(true);
      await waitUntil(settled, "the default email");
      // a token of another organization's owner
      expect((await client.call("passwordReset", { userId: ada.userId }, botToken)).ok).toBe(false);
    }
    // an SMS for a user without a phone fails
    expect((await clients[0]!.call("passwordReset", { userId: grace.userId, medium: { case: "sendLink", value: { notificationType: 2 } } }, adminToken)).ok).toBe(true);
    const rest = await fetch(`${first.url}/v2/users/${ada.userId}/password_reset`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ returnCode: {} }),
    });
    returned.push(((await rest.json()) as { verificationCode: string }).verificationCode);
    secrets.push(...returned);

    // SetPassword: wrong codes, the right one, against the policy, with the current password, by an administrator
    const code = returned.at(-1)!;
    const wrongCodes = ["WRONGCODE1", "WRONGCODE2", code.toLowerCase()];
    secrets.push(...wrongCodes);
    for (const [i, wrong] of wrongCodes.entries()) {
      const out = await clients[i % clients.length]!.call("setPassword", { userId: ada.userId, newPassword: { password: PASSWORDS[3]! }, verification: { case: "verificationCode", value: wrong } });
      expect(out.ok).toBe(false);
    }
    expect((await clients[1]!.call("setPassword", { userId: ada.userId, newPassword: { password: WEAK_PASSWORD }, verification: { case: "verificationCode", value: code } })).ok).toBe(false);
    expect((await clients[2]!.call("setPassword", { userId: ada.userId, newPassword: { password: PASSWORDS[0]! }, verification: { case: "verificationCode", value: code } })).ok).toBe(true);
    expect((await clients[3]!.call("setPassword", { userId: ada.userId, newPassword: { password: PASSWORDS[3]! }, verification: { case: "verificationCode", value: code } })).ok).toBe(false);
    expect((await clients[0]!.call("setPassword", { userId: ada.userId, newPassword: { password: PASSWORDS[1]! }, verification: { case: "currentPassword", value: PASSWORDS[3]! } }, adminToken)).ok).toBe(false);
    expect((await clients[1]!.call("setPassword", { userId: ada.userId, newPassword: { password: PASSWORDS[1]! }, verification: { case: "currentPassword", value: PASSWORDS[0]! } }, adminToken)).ok).toBe(true);
    expect(
      await fetchText(`${first.url}/v2/users/${ada.userId}/password`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ newPassword: { password: PASSWORDS[2] } }),
      }),
    ).toBe(200);

    // bad, unknown and malformed credentials, and bodies that cannot be parsed, on every protocol
    for (const client of clients) {
      expect((await client.call("passwordReset", { userId: ada.userId, medium: { case: "returnCode", value: {} } }, BOGUS_TOKEN)).ok).toBe(false);
      expect((await client.call("passwordReset", { userId: ada.userId, medium: { case: "returnCode", value: {} } }, `${adminToken}!`)).ok).toBe(false);
    }
    const connectUrl = `${first.url}/zitadel.user.v2.UserService`;
    for (const authorization of [`Basic ${BASIC_CREDENTIALS}`, `Bearer ${BOGUS_TOKEN}`, `Bearer ${adminToken} ${BOGUS_TOKEN}`, `${adminToken}`, `Token ${botToken}`]) {
      expect(await fetchText(`${connectUrl}/PasswordReset`, { method: "POST", headers: { authorization, "content-type": "application/json" }, body: JSON.stringify({ userId: ada.userId, returnCode: {} }) })).toBe(401);
      expect(await fetchText(`${first.url}/v2/users/${ada.userId}/password_reset`, { method: "POST", headers: { authorization, "content-type": "application/json" }, body: "{}" })).toBe(401);
    }
    expect(await fetchText(`${first.url}/v2/users/${ada.userId}/password`, { method: "POST", headers: { "content-type": "application/json" }, body: `{"newPassword":{"password":"${MALFORMED_JSON_PASSWORD}"` })).toBe(400);
    expect(await fetchText(`${connectUrl}/SetPassword`, { method: "POST", headers: { "content-type": "application/json" }, body: `{"userId":"${ada.userId}","newPassword":{"password":"${MALFORMED_JSON_PASSWORD}"` })).toBeGreaterThanOrEqual(400);
    expect(await fetchText(`${connectUrl}/SetPassword`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: ada.userId, newPassword: { password: MALFORMED_JSON_PASSWORD, unknown: 1 } }) })).toBeGreaterThanOrEqual(400);
    expect(await fetchText(`${connectUrl}/SetPassword`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: ada.userId, newPassword: { password: 7 }, verificationCode: MALFORMED_JSON_PASSWORD }) })).toBeGreaterThanOrEqual(400);

    // the hosted page with a code in its address
    const pageCode = returned[0]!;
    expect(await fetchText(`${first.url}/ui/login/password/init?userID=${ada.userId}&code=${pageCode}&orgID=${ada.orgId}`, {})).toBe(200);

    // Auth0: the reset it starts, and the refused variants
    const changePassword = `${first.url}/dbconnections/change_password`;
    const json = { "content-type": "application/json" };
    const auth0 = { client_id: clientId, email: "ada@example.com", connection: "Username-Password-Authentication" };
    expect(await fetchText(changePassword, { method: "POST", headers: json, body: JSON.stringify(auth0) })).toBe(200);
    expect(await fetchText(changePassword, { method: "POST", headers: json, body: JSON.stringify({ ...auth0, password: AUTH0_PASSWORD }) })).toBe(400);
    expect(await fetchText(changePassword, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ ...auth0, password: AUTH0_PASSWORD }).toString() })).toBe(400);
    expect(await fetchText(changePassword, { method: "POST", headers: json, body: `{"client_id":"${clientId}","password":"${AUTH0_PASSWORD}"` })).toBe(400);
    expect(await fetchText(changePassword, { method: "POST", headers: { ...json, origin: "http://evil.test" }, body: JSON.stringify(auth0) })).toBe(403);
    await waitUntil(() => smtp.received.some((m) => m.recipients.includes("ada@example.com") && m.email.text?.includes("password")) && settled(), "the Auth0 email");
    await waitUntil(settled, "every message");
    expect(await first.stop()).toBe(0);

  });

  it("2. with delivery failing: SMTP refuses the login, the webhook URL carries credentials; the key given as a value", async () => {
    // fetch refuses a URL with credentials
    const second = await startBinary({
      ...common,
      LATCHKEY_SMTP_URL: `smtp://${SMTP_USER}:${encodeURIComponent(WRONG_SMTP_PASS)}@127.0.0.1:${smtp.port}?tls.rejectUnauthorized=false`,
      LATCHKEY_SMS_WEBHOOK_URL: `http://hook:${HOOK_URL_PASS}@127.0.0.1:${hook.port}/sms`,
      LATCHKEY_SMS_WEBHOOK_SECRET: HOOK_SECRET,
      LATCHKEY_ENCRYPTION_KEY: key,
    });
    const failing = allClients(second.url);
    cleanups.push(async () => failing.forEach((c) => c.close()));
    expect((await failing[0]!.call("passwordReset", { userId: ada.userId }, adminToken)).ok).toBe(true);
    expect((await failing[1]!.call("passwordReset", { userId: ada.userId, medium: { case: "sendLink", value: { notificationType: 2 } } }, adminToken)).ok).toBe(true);
    expect((await failing[2]!.call("passwordReset", { userId: grace.userId }, adminToken)).ok).toBe(true);
    await waitUntil(settled, "the failures");
    expect(await second.stop()).toBe(0);

  });

  it("3. on PostgreSQL with a password in its URL, then a start refused for a bad key", async () => {
    // the test server trusts 127.0.0.1, so any password is accepted
    const bare = await createDatabase(inject("postgresUrl"), "secrets");
    cleanups.push(() => dropDatabase(bare));
    const pgUrl = new URL(bare);
    pgUrl.password = PG_PASS;
    const pgEnv = { LATCHKEY_DATABASE_URL: pgUrl.toString(), LATCHKEY_ENCRYPTION_KEY: key };
    expect((await cli(["migrate"], pgEnv)).code).toBe(0);
    const third = await startBinary({ ...common, ...pgEnv });
    const pgClients = allClients(third.url);
    cleanups.push(async () => pgClients.forEach((c) => c.close()));
    const pgToken = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim();
    secrets.push(pgToken);
    const pgUser = await addUser(third.url, pgToken, { email: "pg@example.com" });
    const pgReset = await pgClients[0]!.call("passwordReset", { userId: pgUser.userId, medium: { case: "returnCode", value: {} } }, pgToken);
    expect(pgReset.ok).toBe(true);
    if (pgReset.ok) secrets.push(pgReset.value.verificationCode!);
    expect(await third.stop()).toBe(0);
    const unreachable = new URL(pgUrl);
    unreachable.port = "1";
    expect((await cli(["org", "add", "--name", "x"], { LATCHKEY_DATABASE_URL: unreachable.toString() })).code).not.toBe(0);
    // a start that cannot begin says why, without the key it was given
    const badKey = randomBytes(31).toString("base64");
    secrets.push(badKey);
    await expect(startBinary({ LATCHKEY_ENCRYPTION_KEY: badKey })).rejects.toThrow(/32 bytes/);

  });

  it("no log line or error message of all that holds a code, token, password or key", () => {
    // every code the SQLite instance ever made, as delivered
    const cipher = new CodeCipher([Buffer.from(key, "base64")]);
    const codes = query<{ payload: string }>("SELECT payload FROM events WHERE event_type = 'user.human.password.code.added'").map(
      (r) => cipher.decrypt((JSON.parse(r.payload) as { code: string }).code),
    );
    expect(codes.length).toBeGreaterThanOrEqual(20);
    secrets.push(...codes);

    // the scenario went where it should
    const logged = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { msg: l };
      }
    });
    const count = (pred: (l: Record<string, unknown>) => boolean) => logged.filter(pred).length;
    expect(count((l) => l.msg === "notifier: message sent" && l.channel === "email")).toBeGreaterThanOrEqual(9);
    expect(count((l) => l.msg === "notifier: message sent" && l.channel === "sms")).toBeGreaterThanOrEqual(4);
    expect(count((l) => l.msg === "notifier: message failed")).toBeGreaterThanOrEqual(3);
    expect(count((l) => l.msg === "call" && l.status === "Unauthenticated")).toBeGreaterThanOrEqual(8);
    expect(count((l) => l.msg === "call" && l.status === "InvalidArgument")).toBeGreaterThanOrEqual(4);
    expect(count((l) => l.msg === "call" && l.protocol === "auth0")).toBe(5);
    expect(hook.bodies.length).toBeGreaterThanOrEqual(4);

    const leaks: string[] = [];
    for (const secret of new Set(secrets)) {
      expect(secret.length).toBeGreaterThanOrEqual(8);
      for (const form of new Set(forms(secret))) {
        for (const line of lines) if (line.includes(form)) leaks.push(`${JSON.stringify(form)} in ${line}`);
      }
    }
    expect(leaks).toEqual([]);
    console.log(`no secrets: ${lines.length} lines checked against ${new Set(secrets).size} secrets in ${forms("x").length} forms each`);
  });
});
