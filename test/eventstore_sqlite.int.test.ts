import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  openSqliteEventStore,
  type SqliteEventStore,
  type SqliteEventStoreOptions,
} from "../src/eventstore/sqlite.js";
import { migrateSqlite, sqliteMigrations } from "../src/eventstore/sqlite_migrations.js";

// What every backend promises is tested in eventstore_contract.int.test.ts;
// here: SQLite's connection settings and several processes on one file.

const USER_1 = { type: "user", id: "u1" };

let dir: string;
let file: string;
let opened: SqliteEventStore[];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-eventstore-"));
  file = path.join(dir, "latchkey.db");
  opened = [];
});

afterEach(async () => {
  for (const store of opened) await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function open(options: Partial<SqliteEventStoreOptions> = {}): SqliteEventStore {
  const store = openSqliteEventStore({ file, ...options });
  opened.push(store);
  return store;
}

describe("SqliteEventStore", () => {
  it("configures the connection", () => {
    const store = open({ synchronous: "NORMAL" });

    expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.db.pragma("synchronous", { simple: true })).toBe(1);
    expect(store.db.pragma("busy_timeout", { simple: true })).toBe(5000);
    expect(store.db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(open().db.pragma("synchronous", { simple: true })).toBe(2);
  });

  it("applies migrations once when two connections migrate", () => {
    const a = new Database(file);
    const b = new Database(file);
    try {
      expect(migrateSqlite(a)).toEqual(sqliteMigrations.map((m) => m.version));
      expect(migrateSqlite(b)).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe("SqliteEventStore group commit", () => {
  const added = (id: string) => ({
    aggregate: { type: "user", id },
    resourceOwner: "org",
    expectedSequence: 0,
    events: [{ type: "user.added", payload: { id }, editor: "system" }],
  });

  it("commits appends made in one tick in one transaction, each with its own outcome", async () => {
    let clockCalls = 0;
    const store = open({ now: () => new Date(++clockCalls) });
    await store.append([added("taken")]);

    const results = await Promise.allSettled([
      store.append([added("a")]),
      store.append([added("taken")]),
      store.append([added("b"), added("c")]),
      store.append([{ ...added("d"), addUnique: [{ kind: "k", value: "v" }] }]),
      store.append([{ ...added("e"), addUnique: [{ kind: "k", value: "v" }] }]),
      // its second write conflicts after the first has written its row
      store.append([added("f"), added("taken")]),
      store.append([{ ...added("g"), events: [...added("g").events, { type: "user.changed", payload: {}, editor: "system" }] }]),
    ]);

    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason.name).toBe("ConcurrencyError");
    expect((results[4] as PromiseRejectedResult).reason.name).toBe("UniqueConstraintError");
    const ids = store.db.prepare("SELECT aggregate_id FROM events ORDER BY position").pluck().all();
    expect(ids).toEqual(["taken", "a", "b", "c", "d", "g", "g"]);
    // each append keeps the time it was made at
    const times = store.db.prepare("SELECT created_at FROM events WHERE aggregate_id != 'taken' ORDER BY position").pluck().all();
    expect(times).toEqual([2, 4, 4, 5, 8, 8]);
    // what a refused append wrote and undid does not count as stored
    await expect(store.append([{ ...added("f"), expectedSequence: 1 }])).rejects.toMatchObject({ name: "ConcurrencyError", actualSequence: 0 });
    await expect(store.append([added("f")])).resolves.toMatchObject([{ sequence: 1 }]);
  });

  it("waits for another connection's write lock without blocking the event loop", async () => {
    const store = open();
    const other = open();
    other.db.exec("BEGIN IMMEDIATE");
    const appended = store.append([added("a")]);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await new Promise((resolve) => setTimeout(resolve, 100));
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(3);
    other.db.exec("COMMIT");
    await expect(appended).resolves.toHaveLength(1);
  });

  it("rejects every append of a group whose commit fails, and stores none of them", async () => {
    const store = open();
    store.db.exec("CREATE TRIGGER explode AFTER INSERT ON events WHEN NEW.aggregate_id = 'boom' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    const results = await Promise.allSettled([store.append([added("x")]), store.append([added("boom")]), store.append([added("y")])]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(store.db.prepare("SELECT count(*) FROM events").pluck().get()).toBe(0);
    // nor does what a failed commit held
    await expect(store.append([{ ...added("x"), expectedSequence: 1 }])).rejects.toMatchObject({ name: "ConcurrencyError", actualSequence: 0 });
    await expect(store.append([added("x")])).resolves.toHaveLength(1);
  });

  it("answers the appends of a store that shares the writer before that store closes", async () => {
    const owner = open();
    await owner.writerReady;
    const sharing = openSqliteEventStore({ file, writer: owner.writerPort() });
    const appended = Promise.all([sharing.append([added("a")]), sharing.append([added("b")])]);
    await sharing.close();
    await expect(appended).resolves.toHaveLength(2);
    expect(owner.db.prepare("SELECT aggregate_id FROM events ORDER BY position").pluck().all()).toEqual(["a", "b"]);
    await expect(sharing.append([added("c")])).rejects.toThrow("closed");
  });
});

describe("SqliteEventStore across processes", () => {
  it("lets exactly one process win a race on the same aggregate", async () => {
    const results = await runInProcesses(6, {
      setup: `const store = sqlite.openSqliteEventStore({ file });`,
      run: `
        try {
          await store.append([{ aggregate: { type: "user", id: "u1" }, resourceOwner: "org1",
            expectedSequence: 0, events: [{ type: "user.added", payload: { pid: process.pid }, editor: "x" }] }]);
          return "stored";
        } catch (err) {
          return err.name;
        } finally {
          await store.close();
        }`,
    });

    expect(results.sort()).toEqual(["stored", ...Array(5).fill("ConcurrencyError")].sort());
    const store = open();
    expect(await store.readAggregate(USER_1)).toHaveLength(1);
  });

  it("applies each migration exactly once when processes migrate at the same time", async () => {
    // This migration takes a while, so the other processes queue on its lock.
    const slow = {
      version: 1_000_000,
      name: "slow test migration",
      sql: `CREATE TABLE slow_marker (n INTEGER);
        INSERT INTO slow_marker WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)
        SELECT count(*) FROM c;`,
    };

    const results = await runInProcesses(6, {
      setup: `const db = new Database(file, { timeout: 5000 });`,
      run: `
        sqlite.enableWal(db);
        try {
          return migrations.migrateSqlite(db, [...migrations.sqliteMigrations, ${JSON.stringify(slow)}]);
        } finally {
          db.close();
        }`,
    });

    const versions = [...sqliteMigrations.map((m) => m.version), slow.version];
    expect((results as number[][]).flat().sort((x, y) => x - y)).toEqual(versions);
    const db = new Database(file);
    try {
      expect(db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all()).toEqual(versions);
      expect(db.prepare("SELECT count(*) FROM slow_marker").pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });
});

/**
 * Starts `count` Node processes on the test's database file. Each runs `setup`,
 * then all run `run` at the same moment; resolves with each one's return value.
 * In both snippets `file`, `Database`, `sqlite` and `migrations` are in scope.
 */
async function runInProcesses(count: number, code: { setup: string; run: string }): Promise<unknown[]> {
  const moduleUrl = (name: string) =>
    JSON.stringify(pathToFileURL(path.resolve("src/eventstore", name)).href);
  const script = `
    import { createInterface } from "node:readline";
    import Database from "better-sqlite3";
    const sqlite = await import(${moduleUrl("sqlite.ts")});
    const migrations = await import(${moduleUrl("sqlite_migrations.ts")});
    const file = ${JSON.stringify(file)};
    ${code.setup}
    const lines = createInterface({ input: process.stdin });
    const go = new Promise((resolve) => lines.once("line", resolve));
    console.log("ready");
    await go;
    lines.close();
    const result = await (async () => { ${code.run} })();
    console.log(JSON.stringify(result));
  `;
  const children = Array.from({ length: count }, () => startProcess(script));
  try {
    await Promise.all(children.map((c) => c.nextLine()));
    for (const c of children) c.child.stdin.write("go\n");
    const outputs = await Promise.all(children.map((c) => c.finished));
    return outputs.map((lines) => JSON.parse(lines.at(-1) ?? "null") as unknown);
  } finally {
    for (const c of children) if (c.child.exitCode === null) c.child.kill();
  }
}

function startProcess(script: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: process.cwd(),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else lines.push(line);
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const finished = new Promise<string[]>((resolve, reject) => {
    child.on("close", (code) =>
      code === 0 ? resolve(lines) : reject(new Error(`child exited with ${code}: ${stderr}`)),
    );
  });
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      waiting.push(resolve);
      finished.catch(reject);
    });
  return { child, finished, nextLine };
}
