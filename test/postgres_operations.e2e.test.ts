/**
 * Running on PostgreSQL: a database that goes away and comes back, copying a
 * SQLite instance over, `latchkey migrate`, and the shared encryption key.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { UserService } from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { Config } from "../src/config.js";
import { DEFAULT_RATE_LIMITS } from "../src/ratelimit/rules.js";
import { loadOrCreateEncryptionKey } from "../src/eventstore/data_dir.js";
import { runCli, startCliServer } from "./support/cli.js";
import { addUser, realCode, resetPassword, waitUntil } from "./support/notification.js";
import { createDatabase, startPostgres } from "./support/postgres.js";
import { startTestServer, tempDir, type TestServer } from "./support/server.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

function freshDir(): string {
  const dir = tempDir("latchkey-pg-");
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function dataDirWithKey(): { dataDir: string; keyFile: string } {
  const dataDir = freshDir();
  loadOrCreateEncryptionKey(dataDir);
  return { dataDir, keyFile: path.join(dataDir, "encryption.key") };
}

async function startOn(databaseUrl: string, dataDir: string, keyFile: string, config: Partial<Config> = {}): Promise<TestServer> {
  const server = await startTestServer({ dataDir, config: { databaseUrl, encryptionKeyFile: keyFile, notifyPollMs: 20, ...config } });
  cleanups.push(() => server.close());
  return server;
}

describe("PostgreSQL stopped and started again", () => {
  it("fails calls with Unavailable meanwhile, then serves and delivers again without a restart of latchkey", { timeout: 120_000 }, async () => {
    const postgres = await startPostgres();
    cleanups.push(() => postgres.stop());
    const { dataDir, keyFile } = dataDirWithKey();
    // many resets of one user: no per-user limit
    const rateLimits = { ...DEFAULT_RATE_LIMITS, enabled: false };
    const server = await startOn(await createDatabase(postgres.url, "outage"), dataDir, keyFile, { rateLimits });
    const rpc = createClient(UserService, createGrpcTransport({ baseUrl: server.url }));
    const auth = { headers: { authorization: `Bearer ${server.adminToken}` } };
    const { userId } = await addUser(server.url, server.adminToken);
    await rpc.passwordReset({ userId }, auth);

    // calls keep coming while the server stops and starts again
    const failures: ConnectError[] = [];
    let successes = 0;
    let calling = true;
    const caller = (async () => {
      while (calling) {
        await rpc.passwordReset({ userId }, auth).then(
          () => successes++,
          (e: unknown) => failures.push(ConnectError.from(e)),
        );
      }
    })();
    await waitUntil(() => successes > 0, "a call before the stop");
    await postgres.halt();
    await waitUntil(() => failures.length >= 3, "failing calls");
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    const before = successes;
    await postgres.start();
    await waitUntil(() => successes >= before + 3, "resets to succeed again", 30_000);
    calling = false;
    await caller;
    for (const err of failures) {
      expect(err.code, err.message).toBe(Code.Unavailable);
      expect(err.rawMessage).toContain("database is unavailable");
    }
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const events = await server.server.app.store.readAggregate({ type: "user", id: userId });
    const last = events.filter((e) => e.type === "user.human.password.code.added").at(-1)!;
    // the notifier kept running through the outage and sends the newest code
    await waitUntil(() => fs.existsSync(path.join(dataDir, "outbox", `${userId}.${last.sequence}.default@localhost.eml`)), "the message of the newest code");
    expect(server.logs.some((l) => l.includes("notifier: poll failed"))).toBe(true);
    // each refused call's log line says why (the driver's error), as a warning
    const refused = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "call" && l.status === "Unavailable");
    expect(refused.length).toBeGreaterThanOrEqual(failures.length);
    for (const line of refused) expect([line.level, typeof line.cause === "string" && line.cause !== ""]).toEqual([40, true]);
  });
});

describe("latchkey copy", () => {
  it("moves a SQLite instance into PostgreSQL: users, tokens and sequences carry over", async () => {
    const { dataDir, keyFile } = dataDirWithKey();
    // a notifier that does not get to look: the message of the second user is still to send at the copy
    const sqlite = await startTestServer({ dataDir, config: { databaseUrl: undefined, notifyPollMs: 60_000 } });
    const { userId } = await addUser(sqlite.url, sqlite.adminToken, { email: "copied@example.com" });
    await resetPassword(sqlite.url, sqlite.adminToken, userId, { medium: { case: "returnCode", value: {} } });
    const waiting = await addUser(sqlite.url, sqlite.adminToken, { email: "waiting@example.com" });
    await resetPassword(sqlite.url, sqlite.adminToken, waiting.userId);
    const before = await sqlite.server.app.store.readAggregate({ type: "user", id: userId });
    await sqlite.close();

    const databaseUrl = await createDatabase(inject("postgresUrl"), "copy");
    const copied = await runCli(["copy", "--from", dataDir, "--to", databaseUrl]);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toMatch(/^copied \d+ events \(head \d+\), \d+ unique values, \d+ lookups and 1 pending messages from .*; rate limit counters start empty\n$/);

    const server = await startOn(databaseUrl, dataDir, keyFile);
    const after = await server.server.app.store.readAggregate({ type: "user", id: userId });
    expect(after.map((e) => [e.position, e.sequence, e.type])).toEqual(before.map((e) => [e.position, e.sequence, e.type]));
    // the admin token (a unique value) still authenticates, and the copied code still decrypts
    await resetPassword(server.url, server.adminToken, userId, { medium: { case: "returnCode", value: {} } });
    const next = await server.server.app.store.readAggregate({ type: "user", id: userId });
    expect(next.at(-1)!.sequence).toBe(before.at(-1)!.sequence + 1);
    expect(next.at(-1)!.position).toBeGreaterThan(before.at(-1)!.position);
    expect(realCode(dataDir, next, before.at(-1)!.sequence)).toMatch(/^\S+$/);
    await waitUntil(() => fs.existsSync(path.join(dataDir, "outbox", `${waiting.userId}.2.default@localhost.eml`)), "the pending message");

    const again = await runCli(["copy", "--from", dataDir, "--to", databaseUrl]);
    expect(again).toMatchObject({ code: 1, stderr: "latchkey: the target database already holds events; copy needs an empty database\n" });
  });
});

describe("latchkey migrate", () => {
  it("applies the migrations and exits", async () => {
    const databaseUrl = await createDatabase(inject("postgresUrl"), "migrate");
    const out = await runCli(["migrate", "--database-url", databaseUrl]);
    expect(out).toMatchObject({ code: 0, stdout: expect.stringMatching(/^migrated postgres:/) });
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4]);
    } finally {
      await client.end();
    }
  });
});

describe("the encryption key on PostgreSQL", () => {
  const startArgs = (dataDir: string) => ["start", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir];

  it("is required, must match the database's, and rotates with the old key kept for decryption", { timeout: 60_000 }, async () => {
    const databaseUrl = await createDatabase(inject("postgresUrl"), "keys");
    const first = dataDirWithKey();
    const server = await startOn(databaseUrl, first.dataDir, first.keyFile);
    await server.close();

    const missing = await runCli(startArgs(freshDir()), { LATCHKEY_DATABASE_URL: databaseUrl });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^latchkey: with database-url every instance needs the same key: set LATCHKEY_ENCRYPTION_KEY_FILE or LATCHKEY_ENCRYPTION_KEY\n$/);

    const otherKey = randomBytes(32).toString("base64");
    const mismatch = await runCli(startArgs(freshDir()), { LATCHKEY_DATABASE_URL: databaseUrl, LATCHKEY_ENCRYPTION_KEY: otherKey });
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/^latchkey: encryption key [0-9a-f]{16} does not match the database's keys \([0-9a-f]{16}\): give this instance the key the others use\n$/);

    // rotation: the new key encrypts, the old one still decrypts; afterwards both are the database's
    const rotated = await startCliServer(["--data-dir", freshDir()], {
      LATCHKEY_DATABASE_URL: databaseUrl,
      LATCHKEY_ENCRYPTION_KEY: otherKey,
      LATCHKEY_ENCRYPTION_KEYS_OLD: first.keyFile,
    });
    await rotated.stop();
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const { rows } = await client
      .query<{ payload: { keyIds: string[] } }>("SELECT payload FROM events WHERE event_type = 'instance.encryption_keys.recorded' ORDER BY position")
      .finally(() => client.end());
    expect(rows.flatMap((r) => r.payload.keyIds)).toHaveLength(2);
    const newOnly = await startCliServer(["--data-dir", freshDir()], { LATCHKEY_DATABASE_URL: databaseUrl, LATCHKEY_ENCRYPTION_KEY: otherKey });
    await newOnly.stop();
  });
});
