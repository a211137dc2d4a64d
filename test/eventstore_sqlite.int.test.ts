import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ConcurrencyError,
  UniqueConstraintError,
  type AggregateWrite,
  type NewEvent,
} from "../src/eventstore/eventstore.js";
import {
  openSqliteEventStore,
  type SqliteEventStore,
  type SqliteEventStoreOptions,
} from "../src/eventstore/sqlite.js";
import { migrateSqlite, sqliteMigrations } from "../src/eventstore/sqlite_migrations.js";

const USER_1 = { type: "user", id: "u1" };
const USER_2 = { type: "user", id: "u2" };
const USERNAME = { kind: "username", value: "alice" };

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

function event(type: string, payload: Record<string, unknown> = {}): NewEvent {
  return { type, payload, editor: "admin" };
}

function write(
  aggregate: { type: string; id: string },
  expectedSequence: number,
  events: NewEvent[],
  extra: Partial<AggregateWrite> = {},
): AggregateWrite {
  return { aggregate, resourceOwner: "org1", expectedSequence, events, ...extra };
}

function countEvents(store: SqliteEventStore): number {
  return store.db.prepare<[], number>("SELECT count(*) FROM events").pluck().get() ?? 0;
}

describe("SqliteEventStore", () => {
  it("appends events and reads them back", async () => {
    const clock = new Date("2024-05-01T12:00:00.000Z");
    const store = open({ instanceId: "inst1", now: () => clock });
    const payload = { email: "a@example.com", nested: { tags: ["x", "y"], n: 1.5, ok: true, none: null } };

    const stored = await store.append([
      write(USER_1, 0, [event("user.added", payload), event("user.email.verified")]),
    ]);

    expect(stored).toEqual([
      {
        position: expect.any(Number),
        instanceId: "inst1",
        aggregateType: "user",
        aggregateId: "u1",
        sequence: 1,
        type: "user.added",
        payload,
        createdAt: clock,
        resourceOwner: "org1",
        editor: "admin",
      },
      expect.objectContaining({ sequence: 2, type: "user.email.verified", payload: {} }),
    ]);
    expect(stored[1]!.position).toBeGreaterThan(stored[0]!.position);
    expect(stored[0]!.createdAt).toBeInstanceOf(Date);
    expect(await store.readAggregate(USER_1)).toEqual(stored);
    expect(await store.readAggregate(USER_2)).toEqual([]);
  });

  it("gives every event of one append the same createdAt", async () => {
    let tick = 0;
    const store = open({ now: () => new Date(Date.UTC(2024, 0, 1) + 1000 * tick++) });

    const stored = await store.append([
      write(USER_1, 0, [event("user.added"), event("user.locked")]),
      write(USER_2, 0, [event("user.added")]),
    ]);

    expect(new Set(stored.map((e) => e.createdAt.getTime())).size).toBe(1);
    expect(tick).toBe(1);
  });

  it("continues the sequence of an existing aggregate", async () => {
    const store = open();
    await store.append([write(USER_1, 0, [event("user.added")])]);

    const stored = await store.append([write(USER_1, 1, [event("user.locked"), event("user.unlocked")])]);

    expect(stored.map((e) => e.sequence)).toEqual([2, 3]);
    expect((await store.readAggregate(USER_1)).map((e) => e.type)).toEqual([
      "user.added",
      "user.locked",
      "user.unlocked",
    ]);
  });

  it("rejects a stale expected sequence and stores nothing", async () => {
    const store = open();
    await store.append([write(USER_1, 0, [event("user.added")])]);

    const error = await store.append([write(USER_1, 0, [event("user.added")])]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ aggregate: USER_1, expectedSequence: 0, actualSequence: 1 });
    expect(await store.readAggregate(USER_1)).toHaveLength(1);
    expect(countEvents(store)).toBe(1);
  });

  it("rolls back every write of an append when a later write conflicts", async () => {
    const store = open();
    await store.append([write(USER_2, 0, [event("user.added")])]);

    const append = store.append([
      write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME] }),
      write(USER_2, 0, [event("user.added")]),
    ]);

    await expect(append).rejects.toBeInstanceOf(ConcurrencyError);
    expect(await store.readAggregate(USER_1)).toEqual([]);
    expect(await store.findUnique(USERNAME)).toBeUndefined();
    expect(countEvents(store)).toBe(1);
  });

  it("rejects a taken unique value and rolls back", async () => {
    const store = open();
    await store.append([write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME] })]);

    const error = await store
      .append([write(USER_2, 0, [event("user.added")], { addUnique: [{ ...USERNAME }] })])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UniqueConstraintError);
    expect(error).toMatchObject({ constraint: USERNAME });
    expect(await store.readAggregate(USER_2)).toEqual([]);
    expect(await store.findUnique(USERNAME)).toBe("u1");
  });

  it("frees a unique value with removeUnique", async () => {
    const store = open();
    await store.append([write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME] })]);

    await store.append([
      write(USER_1, 1, [event("user.renamed")], { removeUnique: [USERNAME] }),
      write(USER_2, 0, [event("user.added")], { addUnique: [USERNAME] }),
    ]);

    expect(await store.findUnique(USERNAME)).toBe("u2");
    await store.append([write(USER_2, 1, [event("user.removed")], { removeUnique: [USERNAME] })]);
    expect(await store.findUnique(USERNAME)).toBeUndefined();
  });

  it("pages through all events with readAfter", async () => {
    const store = open();
    await store.append([write(USER_1, 0, [event("a"), event("b"), event("c")])]);
    await store.append([write(USER_2, 0, [event("d"), event("e")])]);

    const pages: string[][] = [];
    let position = 0;
    for (;;) {
      const page = await store.readAfter(position, 2);
      if (page.length === 0) break;
      pages.push(page.map((e) => e.type));
      position = page.at(-1)!.position;
    }

    expect(pages).toEqual([["a", "b"], ["c", "d"], ["e"]]);
  });

  it("keeps instances apart", async () => {
    const one = open({ instanceId: "one" });
    const two = open({ instanceId: "two" });
    await one.append([write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME] })]);

    await two.append([write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME] })]);

    expect(await one.readAggregate(USER_1)).toHaveLength(1);
    expect(await two.readAggregate(USER_1)).toHaveLength(1);
    expect(await two.readAfter(0, 10)).toEqual(await two.readAggregate(USER_1));
    expect(await two.findUnique(USERNAME)).toBe("u1");
  });

  it("keeps data on reopen without re-running migrations", async () => {
    const first = open();
    await first.append([write(USER_1, 0, [event("user.added", { a: 1 })])]);
    const migrationsBefore = first.db.prepare("SELECT * FROM schema_migrations").all();
    await first.close();

    const second = open();

    expect(second.db.prepare("SELECT * FROM schema_migrations").all()).toEqual(migrationsBefore);
    expect(migrationsBefore).toHaveLength(sqliteMigrations.length);
    expect(migrateSqlite(second.db)).toEqual([]);
    expect((await second.readAggregate(USER_1)).map((e) => e.payload)).toEqual([{ a: 1 }]);
  });

  it("configures the connection", () => {
    const store = open({ synchronous: "NORMAL" });

    expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.db.pragma("synchronous", { simple: true })).toBe(1);
    expect(store.db.pragma("busy_timeout", { simple: true })).toBe(5000);
    expect(store.db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(open().db.pragma("synchronous", { simple: true })).toBe(2);
  });

  it("reports ready until closed, and closes idempotently", async () => {
    const store = open();
    expect(await store.ready()).toBe(true);

    await store.close();
    await store.close();

    expect(await store.ready()).toBe(false);
  });

  it("lets exactly one of two connections append at the same expected sequence", async () => {
    const a = open();
    const b = open();

    const results = await Promise.allSettled([
      a.append([write(USER_1, 0, [event("user.added", { by: "a" })])]),
      b.append([write(USER_1, 0, [event("user.added", { by: "b" })])]),
    ]);

    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({
      reason: expect.any(ConcurrencyError),
    });
    expect(await b.readAggregate(USER_1)).toHaveLength(1);
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
