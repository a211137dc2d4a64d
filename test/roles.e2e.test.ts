/**
 * A caller cannot act on a user who holds a role above its own: an ORG_OWNER
 * leaves its organization's IAM_OWNER alone. UnlockUser and ReactivateUser
 * undo a lock and a deactivation, over the API and, for operators, with
 * `latchkey user unlock|reactivate`.
 */
import { Code } from "@connectrpc/connect";
import { UserState } from "@zitadel/proto/zitadel/user/v2/user_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../src/crypto/tokens.js";
import { runCli } from "./support/cli.js";
import { allClients, type MethodName, type TestClient } from "./support/clients.js";
import { startTestServer, type TestServer } from "./support/server.js";

let server: TestServer;
let clients: TestClient[];
let client: TestClient;
let defaultOrg: string;
let adminId: string;
let orgOwnerToken: string;

beforeAll(async () => {
  server = await startTestServer();
  clients = allClients(server.url);
  client = clients[0]!;
  const admin = (await server.server.app.authenticate(hashToken(server.adminToken)))!;
  defaultOrg = admin.orgId;
  adminId = admin.userId;
  orgOwnerToken = await server.operator.addToken(await server.operator.addMachineUser(defaultOrg, "owner", "ORG_OWNER"));
});

afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await server?.close();
});

let names = 0;
async function machineUser(role: "IAM_OWNER" | "ORG_OWNER"): Promise<{ userId: string; token: string }> {
  const userId = await server.operator.addMachineUser(defaultOrg, `bot-${++names}`, role);
  return { userId, token: await server.operator.addToken(userId) };
}

async function stateOf(userId: string): Promise<UserState | undefined> {
  const out = await client.call("getUserByID", { userId }, server.adminToken);
  return out.ok ? out.value.user?.state : undefined;
}

const DENIED = { ok: false, code: Code.PermissionDenied, id: "AUTHZ-R4nk1", key: "Errors.PermissionDenied" };

describe("an ORG_OWNER and the IAM_OWNER of its organization", () => {
  const calls: Array<[MethodName, (userId: string) => Record<string, unknown>]> = [
    ["lockUser", (userId) => ({ userId })],
    ["deactivateUser", (userId) => ({ userId })],
    ["deleteUser", (userId) => ({ userId })],
    ["unlockUser", (userId) => ({ userId })],
    ["reactivateUser", (userId) => ({ userId })],
    ["setPassword", (userId) => ({ userId, newPassword: { password: "Taken-Over-42!" } })],
  ];

  it.each(calls)("%s on the IAM_OWNER is PermissionDenied", async (method, input) => {
    const target = await machineUser("IAM_OWNER");
    if (method === "unlockUser") expect(await client.call("lockUser", { userId: target.userId }, server.adminToken)).toMatchObject({ ok: true });
    if (method === "reactivateUser") expect(await client.call("deactivateUser", { userId: target.userId }, server.adminToken)).toMatchObject({ ok: true });
    const stateBefore = await stateOf(target.userId);
    const eventsBefore = (await server.server.app.store.readAggregate({ type: "user", id: target.userId })).length;
    expect(await client.call(method, input(target.userId) as never, orgOwnerToken)).toMatchObject(DENIED);
    expect(await stateOf(target.userId)).toBe(stateBefore);
    expect(await server.server.app.store.readAggregate({ type: "user", id: target.userId })).toHaveLength(eventsBefore);
  });

  it("the reproduction: the instance administrator keeps its access", async () => {
    for (const method of ["lockUser", "deactivateUser", "deleteUser"] as const) {
      expect(await client.call(method, { userId: adminId }, orgOwnerToken)).toMatchObject(DENIED);
    }
    expect(await client.call("getUserByID", { userId: adminId }, server.adminToken)).toMatchObject({ ok: true });
  });

  it("an ORG_OWNER can still lock and unlock another ORG_OWNER, and an IAM_OWNER an ORG_OWNER", async () => {
    const peer = await machineUser("ORG_OWNER");
    expect(await client.call("lockUser", { userId: peer.userId }, orgOwnerToken)).toMatchObject({ ok: true });
    expect(await client.call("unlockUser", { userId: peer.userId }, orgOwnerToken)).toMatchObject({ ok: true });
    expect(await client.call("deactivateUser", { userId: peer.userId }, server.adminToken)).toMatchObject({ ok: true });
    expect(await client.call("reactivateUser", { userId: peer.userId }, server.adminToken)).toMatchObject({ ok: true });
    expect(await stateOf(peer.userId)).toBe(UserState.ACTIVE);
  });
});

describe("UnlockUser and ReactivateUser", () => {
  it("undo a lock and a deactivation on every protocol, and the machine user's token works again", async () => {
    for (const c of clients) {
      const bot = await machineUser("ORG_OWNER");
      expect(await c.call("lockUser", { userId: bot.userId }, server.adminToken)).toMatchObject({ ok: true });
      const unlocked = await c.call("unlockUser", { userId: bot.userId }, server.adminToken);
      expect(unlocked, c.name).toMatchObject({ ok: true });
      if (unlocked.ok) expect(unlocked.value.details?.sequence).toBe(4n); // added, token, locked, unlocked
      expect(await c.call("deactivateUser", { userId: bot.userId }, server.adminToken)).toMatchObject({ ok: true });
      expect(await c.call("reactivateUser", { userId: bot.userId }, server.adminToken), c.name).toMatchObject({ ok: true });
      expect(await stateOf(bot.userId)).toBe(UserState.ACTIVE);
    }
  });

  it("a user that is not locked, or not inactive, is FailedPrecondition with ZITADEL's ids", async () => {
    const bot = await machineUser("ORG_OWNER");
    expect(await client.call("unlockUser", { userId: bot.userId }, server.adminToken)).toMatchObject({
      ok: false,
      code: Code.FailedPrecondition,
      id: "COMMAND-4M0ds",
      key: "Errors.User.NotLocked",
    });
    expect(await client.call("reactivateUser", { userId: bot.userId }, server.adminToken)).toMatchObject({
      ok: false,
      code: Code.FailedPrecondition,
      id: "COMMAND-6M0sf",
      key: "Errors.User.NotInactive",
    });
  });

  it("an unknown user is NotFound, and the call needs a token", async () => {
    expect(await client.call("unlockUser", { userId: "404" }, server.adminToken)).toMatchObject({ ok: false, code: Code.NotFound, id: "COMMAND-M0dos" });
    expect(await client.call("reactivateUser", { userId: "404" }, server.adminToken)).toMatchObject({ ok: false, code: Code.NotFound, id: "COMMAND-4M0sd" });
    expect(await client.call("unlockUser", { userId: "404" })).toMatchObject({ ok: false, code: Code.Unauthenticated });
  });

  it("are served on ZITADEL's REST paths", async () => {
    const bot = await machineUser("ORG_OWNER");
    const post = (path: string) =>
      fetch(`${server.url}/v2/users/${bot.userId}/${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
        body: "{}",
      });
    expect((await post("lock")).status).toBe(200);
    const unlock = await post("unlock");
    expect(unlock.status).toBe(200);
    expect(((await unlock.json()) as { details: { sequence: string } }).details.sequence).toBe("4");
    expect((await post("deactivate")).status).toBe(200);
    expect((await post("reactivate")).status).toBe(200);
    const again = await post("reactivate");
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ code: Code.FailedPrecondition, details: [{ id: "COMMAND-6M0sf" }] });
  });
});

describe("latchkey user unlock and reactivate", () => {
  it("give a locked or deactivated IAM_OWNER back its access", async () => {
    const admin = await machineUser("IAM_OWNER");
    expect(await client.call("getUserByID", { userId: admin.userId }, admin.token)).toMatchObject({ ok: true });
    expect(await client.call("lockUser", { userId: admin.userId }, server.adminToken)).toMatchObject({ ok: true });

    const unlock = await runCli(["user", "unlock", "--user", admin.userId, "--data-dir", server.dataDir]);
    expect(unlock).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(unlock.stdout)).toEqual({ userId: admin.userId, state: "active" });
    expect(await stateOf(admin.userId)).toBe(UserState.ACTIVE);

    expect(await client.call("deactivateUser", { userId: admin.userId }, server.adminToken)).toMatchObject({ ok: true });
    const reactivate = await runCli(["user", "reactivate", "--user", admin.userId, "--data-dir", server.dataDir]);
    expect(reactivate).toMatchObject({ code: 0, stderr: "" });
    expect(await stateOf(admin.userId)).toBe(UserState.ACTIVE);
    const events = await server.server.app.store.readAggregate({ type: "user", id: admin.userId });
    expect(events.slice(-1)[0]).toMatchObject({ type: "user.reactivated", editor: "system" });
  });

  it("say what is wrong with a user that is not locked, or unknown", async () => {
    const bot = await machineUser("ORG_OWNER");
    const out = await runCli(["user", "unlock", "--user", bot.userId, "--data-dir", server.dataDir]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("COMMAND-4M0ds");
    expect(await runCli(["user", "reactivate", "--user", "404", "--data-dir", server.dataDir])).toMatchObject({ code: 1 });
    expect(await runCli(["user", "unlock", "--data-dir", server.dataDir])).toMatchObject({ code: 2 });
  });
});
