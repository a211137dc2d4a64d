/**
 * Password hashing happens only after the caller has proven it may change the
 * password, and goes through a bounded queue: over the bound callers are told
 * to come back (ResourceExhausted) instead of everyone waiting.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserEvents } from "../src/command/user/events.js";
import { allClients, type TestClient } from "./support/clients.js";
import { countingHasher, gatedHasher, type CountingHasher } from "./support/hashers.js";
import { waitUntil } from "./support/notification.js";
import { startTestServer, type TestServer } from "./support/server.js";

const NEW_PASSWORD = "Correct-Horse-7";
const BUSY = { ok: false, code: Code.ResourceExhausted, id: "ARGON2-Qf7x2" };

async function addUser(client: TestClient, token: string, password?: string): Promise<string> {
  const out = await client.call(
    "addHumanUser",
    {
      profile: { givenName: "Ada", familyName: "Lovelace" },
      email: { email: `ada-${Math.random()}@example.com` },
      ...(password && { passwordType: { case: "password", value: { password } } }),
    },
    token,
  );
  if (!out.ok) throw new Error(`AddHumanUser failed: ${out.message}`);
  return out.value.userId;
}

describe("anonymous SetPassword without a valid code", () => {
  let server: TestServer;
  let hasher: CountingHasher;
  let clients: TestClient[];

  beforeAll(async () => {
    hasher = countingHasher();
    server = await startTestServer({ hasher });
    clients = allClients(server.url);
  });

  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await server?.close();
  });

  it("200 calls for unknown users and with wrong codes, 40 at a time, hash nothing", async () => {
    const userId = await addUser(clients[0]!, server.adminToken);
    const reset = await clients[0]!.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, server.adminToken);
    expect(reset.ok).toBe(true);
    const calls = { ...hasher.calls };
    for (let batch = 0; batch < 5; batch++) {
      const outs = await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const n = batch * 40 + i;
          const target = n % 2 === 0 ? `99999999999${n}` : userId;
          return clients[n % clients.length]!.call("setPassword", {
            userId: target,
            newPassword: { password: NEW_PASSWORD },
            verification: { case: "verificationCode", value: `WRONG${n}` },
          });
        }),
      );
      for (const out of outs) expect(out.ok).toBe(false);
    }
    expect(hasher.calls).toEqual(calls);
    // the wrong codes for the real user were recorded: the first ones count, then the code is gone
    const types = (await server.server.app.store.readAggregate({ type: "user", id: userId })).map((e) => e.type);
    expect(types).toContain(UserEvents.passwordCodeInvalidated);

    // an administrator's call hashes once
    expect(await clients[0]!.call("setPassword", { userId, newPassword: { password: NEW_PASSWORD } }, server.adminToken)).toMatchObject({ ok: true });
    expect(hasher.calls).toEqual({ hash: calls.hash + 1, verify: calls.verify });
  });

  it("a password against the policy is refused without hashing", async () => {
    const userId = await addUser(clients[0]!, server.adminToken);
    const calls = { ...hasher.calls };
    expect(await clients[0]!.call("setPassword", { userId, newPassword: { password: "weak" } }, server.adminToken)).toMatchObject({ ok: false, id: "COMMAND-Pw7cx" });
    expect(hasher.calls).toEqual(calls);
  });
});

describe("the hashing queue", () => {
  it("runs two at once, holds --argon2-max-queue more, refuses the rest with ResourceExhausted, and holds up no other call", async () => {
    const hasher = gatedHasher();
    const server = await startTestServer({ hasher, config: { argon2MaxQueue: 2 } });
    const clients = allClients(server.url);
    const client = clients[1]!;
    try {
      // users without a password: adding them hashes nothing, so the gate does not hold them
      const userIds = await Promise.all(Array.from({ length: 6 }, () => addUser(client, server.adminToken)));
      const set = (userId: string) => client.call("setPassword", { userId, newPassword: { password: NEW_PASSWORD } }, server.adminToken);

      const admitted = userIds.slice(0, 4).map(set);
      await waitUntil(() => hasher.entered() === 2 && server.server.app.hashing.waiting() === 2, "two hashing and two waiting");
      expect(server.server.app.hashing.running()).toBe(2);

      // over the bound: SetPassword and AddHumanUser alike, on every protocol
      for (const c of clients) {
        expect(await c.call("setPassword", { userId: userIds[4]!, newPassword: { password: NEW_PASSWORD } }, server.adminToken), c.name).toMatchObject(BUSY);
      }
      const add = await client.call(
        "addHumanUser",
        { profile: { givenName: "A", familyName: "B" }, email: { email: "busy@example.com" }, passwordType: { case: "password", value: { password: NEW_PASSWORD } } },
        server.adminToken,
      );
      expect(add).toMatchObject(BUSY);
      const rest = await fetch(`${server.url}/v2/users/${userIds[5]}/password`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ newPassword: { password: NEW_PASSWORD } }),
      });
      expect(rest.status).toBe(429);

      // calls that need no hashing are answered meanwhile
      expect(await client.call("getUserByID", { userId: userIds[4]! }, server.adminToken)).toMatchObject({ ok: true });
      expect(await client.call("passwordReset", { userId: userIds[4]!, medium: { case: "returnCode", value: {} } }, server.adminToken)).toMatchObject({ ok: true });

      hasher.release();
      for (const out of await Promise.all(admitted)) expect(out).toMatchObject({ ok: true });
      expect(server.server.app.hashing.waiting()).toBe(0);
      expect(await set(userIds[4]!)).toMatchObject({ ok: true });
    } finally {
      hasher.release();
      for (const c of clients) c.close();
      await server.close();
    }
  });
});
