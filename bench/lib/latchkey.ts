/**
 * latchkey under test: started from dist/ (built by `npm ci`) as a child
 * process pinned to core 0, with the no-op ceiling mounted, and seeded.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { CodeCipher } from "../../src/crypto/code_cipher.js";
import { generateCode } from "../../src/crypto/codes.js";
import { newId } from "../../src/crypto/ids.js";
import { UserEvents } from "../../src/command/user/events.js";
import { emailLookup, usernameConstraint } from "../../src/command/user/commands.js";
import { ADMIN_TOKEN_FILE, DATABASE_FILE, loadOrCreateEncryptionKey } from "../../src/eventstore/data_dir.js";
import { log, treeCpuTimes, type TreeTimes } from "./util.js";

export const REPO = path.resolve(import.meta.dirname, "../..");
export const SERVER_CORE = "0";
export const LOAD_CORE = "1";

/**
 * The machine may be shared: as root, the harness renices itself by NICE and
 * starts the server and the load generators with `nice -n NICE` on top (so at
 * 2 × NICE = -20): other work yields the two cores to them. What still ran on
 * the server's core is measured and reported.
 */
export const NICE = typeof process.getuid === "function" && process.getuid() === 0 ? -10 : 0;

/** `taskset -c <core> [nice -n N] <cmd> <args>` as a spawn argument list for taskset. */
export function pinned(core: string, cmd: string, args: readonly string[]): string[] {
  return ["-c", core, ...(NICE !== 0 ? ["nice", "-n", String(NICE)] : []), cmd, ...args];
}

/**
 * The server's settings beyond its defaults. The per-token PasswordReset limit
 * (default 600/m) would refuse a benchmark's calls within a second, so it is
 * raised out of reach: the limiter still counts every call, it never refuses.
 * Environment variables, so a build that knows neither setting still starts.
 */
export const BENCH_ENV = {
  LATCHKEY_BENCH_NOOP: "1",
  LATCHKEY_RATE_LIMIT_RESET_TOKEN: "1000000000/s",
};

export interface Server {
  pid: number;
  url: string;
  port: number;
  token: string;
  /** the cores it may run on (its taskset list) */
  cores: number[];
  /** CPU time of the process and every process under it (with --workers: the primary and its workers) */
  cpu(): TreeTimes;
  stop(): Promise<void>;
}

export interface StartOptions {
  dataDir: string;
  port: number;
  /** write a V8 CPU profile into this directory on exit */
  cpuProfDir?: string;
  /** `--workers N`; absent: the flag is not passed (one process, as builds before it) */
  workers?: number;
  /** taskset core list; default SERVER_CORE */
  cores?: string;
  /** `--database-url`: events in PostgreSQL, not in the data directory */
  databaseUrl?: string;
  /** `--encryption-key-file`, which `--database-url` needs */
  encryptionKeyFile?: string;
  /** the admin token, when the data directory holds none (an instance created elsewhere) */
  token?: string;
  /** what the server's standard output carries (its log, V8's traces), instead of /dev/null */
  stdout?: Output;
}

/** Extra flags for a server's `node`, and who reads its standard output (see gc_trace.ts). */
export interface Output {
  nodeArgs: string[];
  read(chunk: Buffer): void;
}

/** `taskset -c 0 node bin/latchkey.js start` with default (durable) settings. */
export async function startLatchkey(options: StartOptions): Promise<Server> {
  const bin = path.join(REPO, "bin/latchkey.js");
  if (!fs.existsSync(path.join(REPO, "dist/src/cli/main.js"))) {
    throw new Error("dist/ is missing: run `npm ci` (it builds) before `npm run bench`");
  }
  const nodeArgs = [...(options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : []), ...(options.stdout?.nodeArgs ?? [])];
  const cores = options.cores ?? SERVER_CORE;
  const workers = options.workers !== undefined ? ["--workers", String(options.workers)] : [];
  const database = [
    ...(options.databaseUrl ? ["--database-url", options.databaseUrl] : []),
    ...(options.encryptionKeyFile ? ["--encryption-key-file", options.encryptionKeyFile] : []),
  ];
  const args = pinned(cores, process.execPath, [
    ...nodeArgs, bin, "start", "--data-dir", options.dataDir, "--host", "127.0.0.1", "--port", String(options.port), ...workers, ...database,
  ]);
  // the call log goes to /dev/null: written as in production, read by no one
  const child = spawn("taskset", args, {
    cwd: REPO,
    env: { ...process.env, ...BENCH_ENV },
    stdio: ["ignore", options.stdout ? "pipe" : "ignore", "pipe"],
  });
  if (options.stdout) child.stdout!.on("data", options.stdout.read);
  const url = await waitForLine(child, /latchkey listening on (\S+);/);
  let token: string;
  try {
    token = options.token ?? fs.readFileSync(path.join(options.dataDir, ADMIN_TOKEN_FILE), "utf8").trim();
  } catch (err) {
    // a server left running would take the core from every later measurement
    child.kill("SIGKILL");
    throw err;
  }
  return serverHandle(child, url, options.port, token, cores);
}

/** "0", "0,1", "0-1" as core numbers */
export function coreList(cores: string): number[] {
  return cores.split(",").flatMap((part) => {
    const [a, b] = part.split("-").map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  });
}

export function serverHandle(child: ChildProcess, url: string, port: number, token: string, cores = SERVER_CORE): Server {
  const pid = child.pid!;
  let exited = child.exitCode !== null;
  let stopping = false;
  let tail = "";
  child.stderr?.on("data", (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)));
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = true;
      if (!stopping) log(`server ${pid} exited unexpectedly (code ${code}, signal ${signal}); its last words:\n${tail}`);
      resolve();
    }),
  );
  return {
    pid,
    url,
    port,
    token,
    cores: coreList(cores),
    cpu: () => {
      if (exited) throw new Error(`server ${pid} is gone (see above)`);
      return treeCpuTimes(pid);
    },
    async stop() {
      stopping = true;
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Resolves with the first capture of `pattern` in the child's stderr; stderr keeps being drained. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    let done = false;
    const finish = (err: Error | undefined, value?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.off("exit", onExit);
      if (err) {
        child.kill("SIGKILL");
        reject(err);
      } else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error(`server did not start in ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    const onExit = (code: number | null) => finish(new Error(`server exited with ${code} before it listened:\n${seen}`));
    child.once("exit", onExit);
    child.stderr!.on("data", (d: Buffer) => {
      if (done) return;
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m) finish(undefined, m[1]);
    });
  });
}

// ---------------------------------------------------------------- seeding

const USER_SERVICE = "zitadel.user.v2.UserService";
/** resets in each seeded user's history, so the store holds several events per user */
export const RESETS_PER_SEEDED_USER = 2;

async function connectJson(server: Server, method: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}/${USER_SERVICE}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.token}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} answered ${res.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** AddHumanUser over Connect JSON, then RESETS_PER_SEEDED_USER PasswordResets each: the history a live store has. */
export async function seedViaApi(server: Server, count: number, concurrency = 8): Promise<string[]> {
  const ids: string[] = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const name = `bench-user-${i}`;
      const res = await connectJson(server, "AddHumanUser", {
        username: name,
        profile: { givenName: "Bench", familyName: `User ${i}` },
        email: { email: `${name}@example.com` },
      });
      const userId = String(res.userId);
      for (let r = 0; r < RESETS_PER_SEEDED_USER; r++) await connectJson(server, "PasswordReset", { userId, returnCode: {} });
      ids[i] = userId;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ids;
}

interface Instance {
  orgId: string;
  adminUserId: string;
}

function readInstance(db: Database.Database): Instance {
  const payload = db.prepare<[], string>("SELECT payload FROM events WHERE aggregate_type = 'instance' AND event_type = 'instance.added'").pluck().get();
  if (!payload) throw new Error("no instance in the store: start latchkey once on the data directory first");
  const orgId = (JSON.parse(payload) as { defaultOrgId: string }).defaultOrgId;
  const adminUserId = db
    .prepare<[string], string>("SELECT aggregate_id FROM events WHERE aggregate_type = 'user' AND event_type = ? ORDER BY position LIMIT 1")
    .pluck()
    .get(UserEvents.machineAdded);
  if (!adminUserId) throw new Error("no admin user in the store");
  return { orgId, adminUserId };
}

/**
 * Writes `count` users straight into the SQLite file of a stopped server, in
 * one transaction, with the rows the server itself writes for AddHumanUser
 * followed by RESETS_PER_SEEDED_USER PasswordResets (return_code): the
 * `user.human.added` event with its username unique constraint and email
 * lookup, then
 * `user.human.password.code.added` events carrying a code encrypted with the
 * data directory's key. The notifier's checkpoint moves past them, as it would
 * have while following them live (returned codes need no message).
 */
export function seedDirect(dataDir: string, count: number, firstIndex = 0): string[] {
  const db = new Database(path.join(dataDir, DATABASE_FILE));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    const { orgId, adminUserId } = readInstance(db);
    const cipher = new CodeCipher([loadOrCreateEncryptionKey(dataDir)]);
    const insertEvent = db.prepare(
      `INSERT INTO events (instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor)
       VALUES ('default', 'user', ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertUnique = db.prepare("INSERT INTO unique_constraints (instance_id, kind, value, aggregate_id) VALUES ('default', ?, ?, ?)");
    const insertLookup = db.prepare("INSERT OR IGNORE INTO lookups (instance_id, kind, value, aggregate_id) VALUES ('default', ?, ?, ?)");
    const checkpoint = db.prepare(
      `INSERT INTO notification_checkpoints (instance_id, position) VALUES ('default', (SELECT max(position) FROM events))
       ON CONFLICT (instance_id) DO UPDATE SET position = excluded.position`,
    );
    const ids: string[] = [];
    const seen = new Set<string>();
    const start = Date.now() - 30 * 24 * 3600 * 1000;
    db.transaction(() => {
      for (let i = firstIndex; i < firstIndex + count; i++) {
        let userId = newId();
        while (seen.has(userId)) userId = newId();
        seen.add(userId);
        const name = `bench-user-${i}`;
        const createdAt = start + i;
        const human = {
          username: name,
          profile: { givenName: "Bench", familyName: `User ${i}` },
          email: { address: `${name}@example.com`, verified: false },
          passwordChangeRequired: false,
        };
        insertEvent.run(userId, 1, UserEvents.humanAdded, JSON.stringify(human), createdAt, orgId, adminUserId);
        const unique = usernameConstraint(orgId, name);
        insertUnique.run(unique.kind, unique.value, userId);
        const lookup = emailLookup(orgId, human.email.address);
        insertLookup.run(lookup.kind, lookup.value, userId);
        for (let r = 0; r < RESETS_PER_SEEDED_USER; r++) {
          const at = createdAt + 1 + r;
          const payload = { code: cipher.encrypt(generateCode(6)), expiresAt: at + 3600_000, medium: "email", codeReturned: true };
          insertEvent.run(userId, 2 + r, UserEvents.passwordCodeAdded, JSON.stringify(payload), at, orgId, adminUserId);
        }
        ids.push(userId);
        if ((i - firstIndex + 1) % 200_000 === 0) log(`  seeded ${i - firstIndex + 1} users`);
      }
      checkpoint.run();
    }).immediate();
    db.pragma("wal_checkpoint(TRUNCATE)");
    return ids;
  } finally {
    db.close();
  }
}

/** The highest event position: each PasswordReset adds exactly one event, the no-op none. */
export function eventHead(dataDir: string): number {
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], number>("SELECT coalesce(max(position), 0) FROM events").pluck().get() ?? 0;
  } finally {
    db.close();
  }
}
