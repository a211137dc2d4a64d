/**
 * Guessing a user's password through SetPassword: anonymous guesses are not
 * evaluated at all; an authenticated caller's wrong guesses (and wrong codes)
 * are recorded and lock the user at the organization's lockout limit.
 */
import { Code } from "@connectrpc/connect";
import { UserState } from "@zitadel/proto/zitadel/user/v2/user_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../src/crypto/tokens.js";
import { UserEvents } from "../src/command/user/events.js";
import { runCli } from "./support/cli.js";
import { allClients, type TestClient } from "./support/clients.js";
import { countingHasher, type CountingHasher } from "./support/hashers.js";
import { startTestServer, type TestServer } from "./support/server.js";

const SECRET = "Secret-Pass-42!";
const ATTACKER = "Attacker-Pass-9!";

let server: TestServer;
let hasher: CountingHasher;
let clients: TestClient[];
let client: TestClient;
let defaultOrg: string;
let orgOwnerToken: string;
let foreignOwnerToken: string;

beforeAll(async () => {
  hasher = countingHasher();
  server = await startTestServer({ hasher });
  clients = allClients(server.url);
  client = clients[1]!;
  defaultOrg = (await server.server.app.authenticate(hashToken(server.adminToken)))!.orgId;
  orgOwnerToken = await server.operator.addToken(await server.operator.addMachineUser(defaultOrg, "owner", "ORG_OWNER"));
  const other = await server.operator.addOrg("other");
  foreignOwnerToken = await server.operator.addToken(await server.operator.addMachineUser(other, "other-owner", "ORG_OWNER"));
});

afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await server?.close();
});

/** A user whose password the administrator set. */
async function userWithPassword(orgId?: string): Promise<string> {
  const out = await client.call(
    "addHumanUser",
    {
      profile: { givenName: "Ada", familyName: "Lovelace" },
      email: { email: `ada-${Math.random()}@example.com` },
      passwordType: { case: "password", value: { password: SECRET } },
      ...(orgId && { organization: { org: { case: "orgId", value: orgId } } }),
    },
    server.adminToken,
  );
  if (!out.ok) throw new Error(`AddHumanUser failed: ${out.message}`);
  return out.value.userId;
}

const guess = (userId: string, current: string, token?: string, c: TestClient = client) =>
  c.call("setPassword", { userId, newPassword: { password: ATTACKER }, verification: { case: "currentPassword", value: current } }, token);

const withCode = (userId: string, code: string, password = ATTACKER) =>
  client.call("setPassword", { userId, newPassword: { password }, verification: { case: "verificationCode", value: code } });

async function resetCode(userId: string): Promise<string> {
  const out = await client.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, server.adminToken);
  if (!out.ok) throw new Error(`PasswordReset failed: ${out.message}`);
  return out.value.verificationCode!;
}

const eventsOf = (userId: string) => server.server.app.store.readAggregate({ type: "user", id: userId });
const typesOf = async (userId: string) => (await eventsOf(userId)).map((e) => e.type);

async function stateOf(userId: string): Promise<UserState | undefined> {
  const out = await client.call("getUserByID", { userId }, server.adminToken);
  return out.ok ? out.value.user?.state : undefined;
}

/** runs `count` calls, `parallel` at a time */
async function inBatches<T>(count: number, parallel: number, call: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < count; i += parallel) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, (_, j) => call(i + j)))));
  }
  return results;
}

const LOCKED = { ok: false, code: Code.FailedPrecondition, id: "COMMAND-JLK35", key: "Errors.User.Locked" };
const WRONG_PASSWORD = { ok: false, code: Code.InvalidArgument, id: "COMMAND-3M0fs" };

describe("anonymous current-password guesses", () => {
  it("are Unauthenticated without being evaluated, even the 41st with the right password", async () => {
    const userId = await userWithPassword();
    const before = await typesOf(userId);
    const calls = { ...hasher.calls };
    const outs = await inBatches(40, 5, (i) => guess(userId, `Guess-${i}`));
    for (const out of outs) expect(out).toMatchObject({ ok: false, code: Code.Unauthenticated, id: "AUTH-x7Bq2", key: "Errors.Token.Missing" });
    expect(await guess(userId, SECRET)).toMatchObject({ ok: false, code: Code.Unauthenticated });
    // nothing was verified, hashed or recorded, and the password is still the administrator's
    expect(hasher.calls).toEqual(calls);
    expect(await typesOf(userId)).toEqual(before);
    expect(await guess(userId, SECRET, server.adminToken)).toMatchObject({ ok: true });
  });

  it("are refused on every protocol and over REST", async () => {
    const userId = await userWithPassword();
    for (const c of clients) expect(await guess(userId, SECRET, undefined, c), c.name).toMatchObject({ ok: false, code: Code.Unauthenticated });
    const rest = await fetch(`${server.url}/v2/users/${userId}/password`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ newPassword: { password: ATTACKER }, currentPassword: SECRET }),
    });
    expect(rest.status).toBe(401);
    expect(await typesOf(userId)).toEqual([UserEvents.humanAdded]);
  });

  it("without verification are Unauthenticated too", async () => {
    const userId = await userWithPassword();
    expect(await client.call("setPassword", { userId, newPassword: { password: ATTACKER } })).toMatchObject({ ok: false, code: Code.Unauthenticated, id: "AUTH-x7Bq2" });
  });
});

describe("authenticated current-password checks", () => {
  it("need user.write on the user's organization; another organization's owner is refused before any check", async () => {
    const userId = await userWithPassword();
    const calls = { ...hasher.calls };
    expect(await guess(userId, SECRET, foreignOwnerToken)).toMatchObject({ ok: false, code: Code.PermissionDenied, id: "AUTHZ-HKJD33" });
    expect(hasher.calls).toEqual(calls);
    expect(await typesOf(userId)).toEqual([UserEvents.humanAdded]);
    expect(await guess(userId, SECRET, orgOwnerToken)).toMatchObject({ ok: true });
  });

  it("record wrong guesses with the client address and lock the user at the default limit of 10", async () => {
    const userId = await userWithPassword();
    const outs = await inBatches(10, 5, (i) => guess(userId, `Guess-${i}`, orgOwnerToken));
    for (const out of outs) expect(out).toMatchObject(WRONG_PASSWORD);
    const events = await eventsOf(userId);
    const failed = events.filter((e) => e.type === UserEvents.passwordCheckFailed);
    expect(failed).toHaveLength(10);
    for (const e of failed) expect(e.payload["audit"]).toMatchObject({ clientIp: "127.0.0.1" });
    // the tenth failure and the lock are one append
    expect(events.map((e) => e.type).slice(-2)).toEqual([UserEvents.passwordCheckFailed, UserEvents.locked]);
    expect(await stateOf(userId)).toBe(UserState.LOCKED);

    // even the right password is refused now, without being compared
    const calls = { ...hasher.calls };
    expect(await guess(userId, SECRET, orgOwnerToken)).toMatchObject(LOCKED);
    expect(await guess(userId, "Guess-11", orgOwnerToken)).toMatchObject(LOCKED);
    expect(hasher.calls).toEqual(calls);
    // a reset can still be requested, but its code does not get past the lock
    const code = await resetCode(userId);
    expect(await withCode(userId, code)).toMatchObject(LOCKED);

    // UnlockUser: the right password works again, the wrong ones count from zero
    const unlocked = await client.call("unlockUser", { userId }, server.adminToken);
    expect(unlocked).toMatchObject({ ok: true });
    expect(await stateOf(userId)).toBe(UserState.ACTIVE);
    expect(await guess(userId, "Guess-12", orgOwnerToken)).toMatchObject(WRONG_PASSWORD);
    expect(await guess(userId, SECRET, orgOwnerToken)).toMatchObject({ ok: true });
  });

  it("an administrator's SetPassword still works on a locked user", async () => {
    const userId = await userWithPassword();
    expect(await client.call("lockUser", { userId }, server.adminToken)).toMatchObject({ ok: true });
    expect(await client.call("setPassword", { userId, newPassword: { password: ATTACKER } }, server.adminToken)).toMatchObject({ ok: true });
    expect(await stateOf(userId)).toBe(UserState.LOCKED);
  });

  it("a successful change starts the count anew", async () => {
    const userId = await userWithPassword();
    for (let i = 0; i < 9; i++) expect(await guess(userId, `Guess-${i}`, server.adminToken)).toMatchObject(WRONG_PASSWORD);
    expect(await client.call("setPassword", { userId, newPassword: { password: SECRET }, verification: { case: "currentPassword", value: SECRET } }, server.adminToken)).toMatchObject({ ok: true });
    for (let i = 0; i < 9; i++) expect(await guess(userId, `Guess-${i}`, server.adminToken)).toMatchObject(WRONG_PASSWORD);
    expect(await stateOf(userId)).toBe(UserState.ACTIVE);
  });
});

describe("the organization's lockout policy", () => {
  it("is set with latchkey policy set --max-password-attempts, and wrong codes count too", async () => {
    const orgId = await server.operator.addOrg("strict");
    const out = await runCli(["policy", "set", "--org", orgId, "--max-password-attempts", "3", "--data-dir", server.dataDir]);
    expect(out).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(out.stdout)).toMatchObject({ minLength: 8, maxPasswordAttempts: 3 });
    const userId = await userWithPassword(orgId);
    const code = await resetCode(userId);
    expect(await withCode(userId, "WRONG1")).toMatchObject({ ok: false, id: "CODE-woT0xc" });
    expect(await withCode(userId, "WRONG2")).toMatchObject({ ok: false, id: "CODE-woT0xc" });
    expect(await guess(userId, "Guess-1", server.adminToken)).toMatchObject(WRONG_PASSWORD);
    expect(await stateOf(userId)).toBe(UserState.LOCKED);
    const failed = (await eventsOf(userId)).filter((e) => e.type === UserEvents.passwordCodeCheckFailed);
    for (const e of failed) expect(e.payload["audit"]).toMatchObject({ clientIp: "127.0.0.1" });
    expect(await withCode(userId, code)).toMatchObject(LOCKED);
  });

  it("0 turns the lockout off", async () => {
    const orgId = await server.operator.addOrg("lenient");
    expect(await runCli(["policy", "set", "--org", orgId, "--max-password-attempts", "0", "--data-dir", server.dataDir])).toMatchObject({ code: 0 });
    const userId = await userWithPassword(orgId);
    for (let i = 0; i < 12; i++) expect(await guess(userId, `Guess-${i}`, server.adminToken)).toMatchObject(WRONG_PASSWORD);
    expect(await stateOf(userId)).toBe(UserState.ACTIVE);
    expect(await guess(userId, SECRET, server.adminToken)).toMatchObject({ ok: true });
  });

  it("refuses a limit that is not a whole number", async () => {
    const orgId = await server.operator.addOrg("typo");
    expect(await runCli(["policy", "set", "--org", orgId, "--max-password-attempts", "-1", "--data-dir", server.dataDir])).toMatchObject({ code: 2 });
    expect(await runCli(["policy", "set", "--org", orgId, "--max-password-attempts", "ten", "--data-dir", server.dataDir])).toMatchObject({ code: 2 });
  });
});
