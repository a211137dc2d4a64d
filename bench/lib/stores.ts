/** The seeded stores every block starts from, and their copies. */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { CodeCipher } from "../../src/crypto/code_cipher.js";
import { generateCode } from "../../src/crypto/codes.js";
import { UserEvents } from "../../src/command/user/events.js";
import { DATABASE_FILE, loadOrCreateEncryptionKey } from "../../src/eventstore/data_dir.js";
import { config } from "./config.js";
import { REPO, RESETS_PER_SEEDED_USER, seedDirect, seedViaApi, startLatchkey } from "./latchkey.js";
import { freePort, log, run } from "./util.js";
import { writeIds } from "./wrk.js";

export function fileBytes(dir: string, prefix: string): number {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

/** Replaces `to` with a copy of `from` (a data directory). */
export function restore(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  const r = spawnSync("cp", ["-a", from, to]);
  if (r.status !== 0) throw new Error(`cp ${from} ${to} failed: ${r.stderr}`);
}

const WRK_SAMPLE = 100_000;

/** `k` distinct indexes below `n` in random order (all of them when k ≥ n). */
function sampleIndexes(n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set<number>();
  while (picked.size < k) picked.add(Math.floor(Math.random() * n));
  return [...picked];
}

export interface Seeded {
  users: number;
  seeding: string;
  seedSeconds: number;
  /** a stopped server's data directory, never served from: blocks copy it */
  snapshot: string;
  ids: string[];
  idsFile: string;
  emailsFile: string;
  peerSnapshot?: string;
  peerReason?: string;
}

export async function seed(root: string, users: number, direct: boolean): Promise<Seeded> {
  const snapshot = path.join(root, "latchkey-seeded");
  fs.mkdirSync(snapshot, { recursive: true });
  const started = performance.now();
  log(`seeding ${users} users (${direct ? "directly into SQLite" : "through the API"})`);
  // the first start creates the instance: organization, admin, token, key
  const server = await startLatchkey({ dataDir: snapshot, port: await freePort() });
  let ids: string[];
  if (direct) {
    await server.stop();
    ids = seedDirect(snapshot, users);
  } else {
    ids = await seedViaApi(server, users);
    await server.stop();
  }
  const seedSeconds = (performance.now() - started) / 1000;
  // wrk draws from a random sample of at most 100,000 users: loading more into its
  // Lua state only delays its start, while the server already counts CPU time
  const sample = sampleIndexes(users, WRK_SAMPLE);
  const idsFile = writeIds(path.join(root, "ids.txt"), sample.map((i) => ids[i]!));
  const emailsFile = writeIds(path.join(root, "emails.txt"), sample.map((i) => `bench-user-${i}@example.com`));
  const seeded: Seeded = {
    users,
    seeding: direct
      ? `events written straight into the SQLite file in one transaction (AddHumanUser's event, username constraint and email lookup, then ${RESETS_PER_SEEDED_USER} password.code.added events per user)`
      : `through the API: AddHumanUser over Connect JSON, then ${RESETS_PER_SEEDED_USER} PasswordResets per user`,
    seedSeconds,
    snapshot,
    ids,
    idsFile,
    emailsFile,
  };
  if (config.peer) {
    const peerSnapshot = path.join(root, "peer-seeded");
    fs.mkdirSync(peerSnapshot, { recursive: true });
    const r = await run(process.execPath, [path.join(REPO, "bench/peer/better-auth.mjs"), "seed", peerSnapshot, String(users)], { cwd: REPO });
    if (r.code === 0) seeded.peerSnapshot = peerSnapshot;
    else seeded.peerReason = `better-auth could not be set up: ${(r.stderr || r.stdout).trim().split("\n").slice(0, 3).join(" ")}`;
  } else {
    seeded.peerReason = "not run (--no-peer, or the main block not selected)";
  }
  log(`seeded in ${seedSeconds.toFixed(1)} s`);
  return seeded;
}

/**
 * Appends `password.code.added` events (return_code, as PasswordReset writes
 * them, codes encrypted under the data directory's key) to each user of a
 * stopped server's store until every one has `eventsPerUser` events, in one
 * transaction. Returns the events appended.
 */
export function growHistories(dataDir: string, ids: readonly string[], eventsPerUser: number): number {
  const db = new Database(path.join(dataDir, DATABASE_FILE));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    const cipher = new CodeCipher([loadOrCreateEncryptionKey(dataDir)]);
    const last = db.prepare<[string], { sequence: number; created_at: number; resource_owner: string; editor: string }>(
      "SELECT sequence, created_at, resource_owner, editor FROM events WHERE instance_id = 'default' AND aggregate_type = 'user' AND aggregate_id = ? ORDER BY sequence DESC LIMIT 1",
    );
    const insert = db.prepare(
      `INSERT INTO events (instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor)
       VALUES ('default', 'user', ?, ?, ?, ?, ?, ?, ?)`,
    );
    const checkpoint = db.prepare(
      `INSERT INTO notification_checkpoints (instance_id, position) VALUES ('default', (SELECT max(position) FROM events))
       ON CONFLICT (instance_id) DO UPDATE SET position = excluded.position`,
    );
    let appended = 0;
    db.transaction(() => {
      for (const id of ids) {
        const head = last.get(id);
        if (!head) throw new Error(`user ${id} is not in ${dataDir}`);
        for (let sequence = head.sequence + 1; sequence <= eventsPerUser; sequence++) {
          const at = head.created_at + (sequence - head.sequence);
          const payload = { code: cipher.encrypt(generateCode(6)), expiresAt: at + 3600_000, medium: "email", codeReturned: true };
          insert.run(id, sequence, UserEvents.passwordCodeAdded, JSON.stringify(payload), at, head.resource_owner, head.editor);
          appended++;
        }
      }
      // returned codes need no message: the notifier has nothing to catch up on
      checkpoint.run();
    }).immediate();
    db.pragma("wal_checkpoint(TRUNCATE)");
    return appended;
  } finally {
    db.close();
  }
}

/** Events of these users in a stopped server's store. */
export function countUserEvents(dataDir: string, ids: readonly string[]): number {
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    const count = db.prepare<[string], number>("SELECT count(*) FROM events WHERE aggregate_type = 'user' AND aggregate_id = ?").pluck();
    return ids.reduce((n, id) => n + (count.get(id) ?? 0), 0);
  } finally {
    db.close();
  }
}
