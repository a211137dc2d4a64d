/**
 * Two latchkey processes (the real binary) on one PostgreSQL database behind
 * no balancer but the test itself: resets alternate between them. Sequences
 * stay gapless per user, every reset's message goes out once per Message-ID,
 * a per-user rate limit holds for both together, and when one process is
 * killed the other finishes its messages.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { UserService } from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { startCliServer, type CliServer } from "./support/cli.js";
import { addUser, startSmtpServer, waitUntil, type TestSmtpServer } from "./support/notification.js";
import { createDatabase, dropDatabase } from "./support/postgres.js";
import { tempDir } from "./support/server.js";

const USERS = 50;
const RESETS = Number(process.env.RESETS ?? 1000);
const PER_USER_LIMIT = 30;

interface Cluster {
  databaseUrl: string;
  smtp: TestSmtpServer;
  instances: CliServer[];
  token: string;
  db: pg.Pool;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function startCluster(leaseMs: number): Promise<Cluster> {
  const databaseUrl = await createDatabase(inject("postgresUrl"), "cluster");
  cleanups.push(() => dropDatabase(databaseUrl));
  const smtp = await startSmtpServer();
  cleanups.push(() => smtp.close());
  const keyFile = path.join(tempDir("latchkey-key-"), "key");
  fs.writeFileSync(keyFile, randomBytes(32).toString("base64"));
  const env = {
    LATCHKEY_DATABASE_URL: databaseUrl,
    LATCHKEY_ENCRYPTION_KEY_FILE: keyFile,
    LATCHKEY_SMTP_URL: `smtp://127.0.0.1:${smtp.port}?tls.rejectUnauthorized=false`,
    LATCHKEY_NOTIFY_POLL_INTERVAL: "20",
    LATCHKEY_NOTIFY_RETRY_DELAY: "50",
    LATCHKEY_NOTIFY_LEASE: String(leaseMs),
    LATCHKEY_RATE_LIMIT_RESET_USER: `${PER_USER_LIMIT}/h`,
    LATCHKEY_RATE_LIMIT_RESET_TOKEN: "off",
    LATCHKEY_LOG_LEVEL: "warn",
  };
  const instances: CliServer[] = [];
  const dataDirs = [tempDir("latchkey-cluster-"), tempDir("latchkey-cluster-")];
  cleanups.push(async () => dataDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
  // one after the other: the first creates the instance and writes the admin token into its data directory
  for (const dataDir of dataDirs) {
    const instance = await startCliServer(["--data-dir", dataDir], env);
    instances.push(instance);
    cleanups.push(() => instance.stop("SIGKILL"));
  }
  expect(fs.existsSync(path.join(dataDirs[1]!, "admin.pat"))).toBe(false);
  const token = fs.readFileSync(path.join(dataDirs[0]!, "admin.pat"), "utf8").trim();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  cleanups.push(() => db.end());
  return { databaseUrl, smtp, instances, token, db };
}

function clients(cluster: Cluster): Array<Client<typeof UserService>> {
  return cluster.instances.map((i) => createClient(UserService, createGrpcTransport({ baseUrl: i.url })));
}

async function addUsers(cluster: Cluster, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const url = cluster.instances[i % 2]!.url;
    ids.push((await addUser(url, cluster.token, { email: `user${i}@example.com` })).userId);
  }
  return ids;
}

/** Runs `total` calls, `parallel` at a time. */
async function inParallel(total: number, parallel: number, call: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < total) await call(next++);
    }),
  );
}

interface CodeEvent {
  aggregate_id: string;
  sequence: number;
}

async function userSequences(db: pg.Pool): Promise<Map<string, number[]>> {
  const { rows } = await db.query<CodeEvent>("SELECT aggregate_id, sequence FROM events WHERE aggregate_type = 'user' ORDER BY aggregate_id, sequence");
  const byUser = new Map<string, number[]>();
  for (const r of rows) byUser.set(r.aggregate_id, [...(byUser.get(r.aggregate_id) ?? []), r.sequence]);
  return byUser;
}

const messageId = (userId: string, sequence: number) => `<${userId}.${sequence}.default@localhost>`;

/**
 * The Message-IDs of every code (code.added) and of every code recorded as
 * sent. A code replaced by a newer one before its turn is skipped by design,
 * so "sent" is a subset of "added", and each user's newest code is in it.
 */
async function promisedMessages(db: pg.Pool): Promise<{ added: Set<string>; sent: Set<string>; newest: Set<string> }> {
  const { rows } = await db.query<{ aggregate_id: string; sequence: number; event_type: string; payload: { triggerSequence?: number } }>(
    `SELECT aggregate_id, sequence, event_type, payload FROM events
     WHERE event_type IN ('user.human.password.code.added', 'user.human.password.code.sent') ORDER BY position`,
  );
  const added = new Set<string>();
  const sent = new Set<string>();
  const newestByUser = new Map<string, string>();
  for (const r of rows) {
    if (r.event_type === "user.human.password.code.added") {
      added.add(messageId(r.aggregate_id, r.sequence));
      newestByUser.set(r.aggregate_id, messageId(r.aggregate_id, r.sequence));
    } else {
      sent.add(messageId(r.aggregate_id, r.payload.triggerSequence!));
    }
  }
  return { added, sent, newest: new Set(newestByUser.values()) };
}

async function codesPerUser(db: pg.Pool): Promise<Map<string, number>> {
  const { rows } = await db.query<{ aggregate_id: string; n: string }>(
    "SELECT aggregate_id, count(*) AS n FROM events WHERE event_type = 'user.human.password.code.added' GROUP BY aggregate_id",
  );
  return new Map(rows.map((r) => [r.aggregate_id, Number(r.n)]));
}

/**
 * No job is pending and every user's newest code is recorded as sent: an empty
 * job table alone may only mean the notifier has not yet read the last events.
 */
const allDelivered = (cluster: Cluster) => async () => {
  if ((await cluster.db.query("SELECT 1 FROM notification_jobs")).rowCount !== 0) return false;
  const { sent, newest } = await promisedMessages(cluster.db);
  return [...newest].every((id) => sent.has(id));
};

function expectGapless(sequences: Map<string, number[]>): void {
  for (const [user, seqs] of sequences) {
    expect(seqs, user).toEqual(seqs.map((_, i) => i + 1));
  }
}

describe("two instances on one PostgreSQL", { timeout: 240_000 }, () => {
  it(`${RESETS} resets over ${USERS} users through both: gapless sequences, one message each, a shared rate limit`, async () => {
    const cluster = await startCluster(60_000);
    const rpc = clients(cluster);
    const users = await addUsers(cluster, USERS + 1);
    const limited = users.pop()!;

    const acknowledged = new Map<string, number>();
    await inParallel(RESETS, 16, async (i) => {
      const userId = users[i % USERS]!;
      await rpc[i % 2]!.passwordReset({ userId }, { headers: { authorization: `Bearer ${cluster.token}` } });
      acknowledged.set(userId, (acknowledged.get(userId) ?? 0) + 1);
    });

    // the per-user limit counts the calls of both instances together
    const outcomes = await Promise.all(
      Array.from({ length: PER_USER_LIMIT + 10 }, (_, i) =>
        rpc[i % 2]!
          .passwordReset({ userId: limited }, { headers: { authorization: `Bearer ${cluster.token}` } })
          .then(() => "ok", (err: unknown) => (ConnectError.from(err).code === Code.ResourceExhausted ? "limited" : String(err))),
      ),
    );
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(PER_USER_LIMIT);
    expect(outcomes.filter((o) => o === "limited")).toHaveLength(10);

    await waitUntil(allDelivered(cluster), "no pending job and every newest code sent", 120_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { added, sent, newest } = await promisedMessages(cluster.db);
    expect(added.size).toBe(RESETS + PER_USER_LIMIT);
    const mails = cluster.smtp.received.map((m) => m.email.messageId!);
    // one message per Message-ID, and exactly for the codes recorded as sent
    expect(mails.length).toBe(new Set(mails).size);
    expect(new Set(mails)).toEqual(sent);
    for (const id of newest) expect(sent.has(id), id).toBe(true);
    for (const id of sent) expect(added.has(id), id).toBe(true);

    expectGapless(await userSequences(cluster.db));
    const codes = await codesPerUser(cluster.db);
    for (const userId of users) expect(codes.get(userId)).toBe(acknowledged.get(userId));
  });

  it("one instance killed with SIGKILL midway: the other finishes, takes over its messages, loses no acknowledged reset", async () => {
    const cluster = await startCluster(1500);
    const rpc = clients(cluster);
    const users = await addUsers(cluster, USERS);
    const acknowledged = new Map<string, number>();
    let killed = false;
    await inParallel(RESETS, 16, async (i) => {
      if (i === RESETS / 2 && !killed) {
        killed = true;
        await cluster.instances[0]!.stop("SIGKILL");
      }
      const userId = users[i % USERS]!;
      const target = killed ? 1 : i % 2;
      try {
        await rpc[target]!.passwordReset({ userId }, { headers: { authorization: `Bearer ${cluster.token}` } });
        acknowledged.set(userId, (acknowledged.get(userId) ?? 0) + 1);
      } catch (err) {
        // only calls in flight to the killed process may fail, with whatever the
        // client makes of a connection that dies mid-call
        expect(target).toBe(0);
        expect([Code.Unavailable, Code.Canceled, Code.Aborted]).toContain(ConnectError.from(err).code);
      }
    });
    const acknowledgedTotal = [...acknowledged.values()].reduce((a, b) => a + b, 0);
    expect(acknowledgedTotal).toBeGreaterThanOrEqual(RESETS - 16);

    await waitUntil(allDelivered(cluster), "no pending job and every newest code sent", 120_000);
    const { added, sent, newest } = await promisedMessages(cluster.db);
    expect(added.size).toBeGreaterThanOrEqual(acknowledgedTotal);
    const mails = cluster.smtp.received.map((m) => m.email.messageId!);
    const distinct = new Set(mails);
    for (const id of sent) expect(distinct.has(id), id).toBe(true);
    for (const id of newest) expect(sent.has(id), id).toBe(true);
    // mails the killed process sent without recording them go out again from the other one, with the same Message-ID
    for (const id of distinct) expect(added.has(id), id).toBe(true);
    expect(mails.length - distinct.size).toBeLessThanOrEqual(8);

    expectGapless(await userSequences(cluster.db));
    // a call cut off by the kill may have committed without its answer arriving: at least, not exactly
    const codes = await codesPerUser(cluster.db);
    for (const userId of users) expect(codes.get(userId)).toBeGreaterThanOrEqual(acknowledged.get(userId)!);
  });

  it("40 resets of one user at once, half through each instance, in 10 rounds: every one succeeds, none gives up on contention", async () => {
    const cluster = await startCluster(60_000);
    const rpc = clients(cluster);
    const users = await addUsers(cluster, 10);
    const failures: string[] = [];
    for (const userId of users) {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          rpc[i % 2]!
            .passwordReset({ userId, medium: { case: "returnCode", value: {} } }, { headers: { authorization: `Bearer ${cluster.token}` } })
            .catch((err: unknown) => failures.push(ConnectError.from(err).message)),
        ),
      );
    }
    // one instance decides on the state it keeps, the other reads first: it must not lose every race while the first has calls queued
    expect(failures).toEqual([]);
    const sequences = await userSequences(cluster.db);
    for (const userId of users) expect(sequences.get(userId)).toHaveLength(41);
    expectGapless(sequences);
  });
});
