/**
 * What every event store backend promises, run against SQLite and PostgreSQL.
 * Backend-only behaviour is tested in eventstore_sqlite.int.test.ts and
 * eventstore_postgres.int.test.ts.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import {
  ConcurrencyError,
  UniqueConstraintError,
  type AggregateWrite,
  type EventStore,
  type NewEvent,
} from "../src/eventstore/eventstore.js";
import { openPostgresEventStore, type PostgresEventStore } from "../src/eventstore/postgres.js";
import { migratePostgres, postgresMigrations } from "../src/eventstore/postgres_migrations.js";
import { openSqliteEventStore, type SqliteEventStore } from "../src/eventstore/sqlite.js";
import { migrateSqlite, sqliteMigrations } from "../src/eventstore/sqlite_migrations.js";
import { createDatabase, dropDatabase } from "./support/postgres.js";

interface OpenOptions {
  instanceId?: string;
  now?: () => Date;
}

/** One backend on storage of its own for each test. */
interface Backend {
  readonly name: string;
  /** Fresh, empty storage. */
  prepare(): Promise<void>;
  /** A store on this test's storage; two stores are two connections (pools). */
  open(options?: OpenOptions): Promise<EventStore>;
  /** Runs the migrations again through the store's connection; returns the versions applied. */
  migrateAgain(store: EventStore): Promise<number[]>;
  readonly migrationCount: number;
  /** Rows of a table, read past the store. */
  count(table: "events" | "schema_migrations"): Promise<number>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir = "";
  let file = "";
  return {
    name: "SQLite",
    async prepare() {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-eventstore-"));
      file = path.join(dir, "latchkey.db");
    },
    async open(options = {}) {
      return openSqliteEventStore({ file, ...options });
    },
    async migrateAgain(store) {
      return migrateSqlite((store as SqliteEventStore).db);
    },
    migrationCount: sqliteMigrations.length,
    async count(table) {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get() ?? 0;
      } finally {
        db.close();
      }
    },
    async cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBackend(): Backend {
  let url = "";
  return {
    name: "PostgreSQL",
    async prepare() {
      url = await createDatabase(inject("postgresUrl"), "contract");
    },
    async open(options = {}) {
      return openPostgresEventStore({ url, ...options, pool: { max: 4 } });
    },
    async migrateAgain(store) {
      return migratePostgres((store as PostgresEventStore).pool);
    },
    migrationCount: postgresMigrations.length,
    async count(table) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
        return Number(rows[0]!.n);
      } finally {
        await client.end();
      }
    },
    async cleanup() {
      await dropDatabase(url);
    },
  };
}

const USER_1 = { type: "user", id: "u1" };
const USER_2 = { type: "user", id: "u2" };
const USERNAME = { kind: "username", value: "alice" };
const EMAIL = { kind: "email", value: "org1:shared@example.com" };

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

describe.each([sqliteBackend(), postgresBackend()])("$name event store", (backend) => {
  let opened: EventStore[];

  beforeEach(async () => {
    opened = [];
    await backend.prepare();
  });

  afterEach(async () => {
    for (const store of opened) await store.close();
    await backend.cleanup();
  });

  async function open(options: OpenOptions = {}): Promise<EventStore> {
    const store = await backend.open(options);
    opened.push(store);
    return store;
  }

  it("appends events and reads them back", async () => {
    const clock = new Date("2024-05-01T12:00:00.000Z");
    const store = await open({ instanceId: "inst1", now: () => clock });
    const payload = {
      email: "a@example.com",
      nested: { tags: ["x", "y"], n: 1.5, ok: true, none: null },
      text: "quote \" backslash \\ nul \u0000 emoji \u{1F511}",
    };

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
    const store = await open({ now: () => new Date(Date.UTC(2024, 0, 1) + 1000 * tick++) });

    const stored = await store.append([
      write(USER_1, 0, [event("user.added"), event("user.locked")]),
      write(USER_2, 0, [event("user.added")]),
    ]);

    expect(new Set(stored.map((e) => e.createdAt.getTime())).size).toBe(1);
    expect(tick).toBe(1);
  });

  it("continues the sequence of an existing aggregate", async () => {
    const store = await open();
    await store.append([write(USER_1, 0, [event("user.added")])]);

    const stored = await store.append([write(USER_1, 1, [event("user.locked"), event("user.unlocked")])]);

    expect(stored.map((e) => e.sequence)).toEqual([2, 3]);
    expect((await store.readAggregate(USER_1)).map((e) => e.type)).toEqual([
      "user.added",
      "user.locked",
      "user.unlocked",
    ]);
  });

  it("continues the sequence across two writes to one aggregate in one append", async () => {
    const store = await open();

    const stored = await store.append([
      write(USER_1, 0, [event("user.added")]),
      write(USER_2, 0, [event("user.added")]),
      write(USER_1, 1, [event("user.locked")]),
    ]);

    expect(stored.map((e) => [e.aggregateId, e.sequence])).toEqual([
      ["u1", 1],
      ["u2", 1],
      ["u1", 2],
    ]);
    const conflicting = store.append([write(USER_1, 2, [event("a")]), write(USER_1, 2, [event("b")])]);
    await expect(conflicting).rejects.toMatchObject({ name: "ConcurrencyError", expectedSequence: 2, actualSequence: 3 });
    expect(await store.readAggregate(USER_1)).toHaveLength(2);
  });

  it("rejects a stale expected sequence and stores nothing", async () => {
    const store = await open();
    await store.append([write(USER_1, 0, [event("user.added")])]);

    const error = await store.append([write(USER_1, 0, [event("user.added")])]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ aggregate: USER_1, expectedSequence: 0, actualSequence: 1 });
    expect(await store.readAggregate(USER_1)).toHaveLength(1);
    expect(await backend.count("events")).toBe(1);
  });

  it("rolls back every write of an append when a later write conflicts", async () => {
    const store = await open();
    await store.append([write(USER_2, 0, [event("user.added")])]);

    const append = store.append([
      write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME], addLookup: [EMAIL] }),
      write(USER_2, 0, [event("user.added")]),
    ]);

    await expect(append).rejects.toBeInstanceOf(ConcurrencyError);
    expect(await store.readAggregate(USER_1)).toEqual([]);
    expect(await store.findUnique(USERNAME)).toBeUndefined();
    expect(await store.findLookup(EMAIL)).toEqual([]);
    expect(await backend.count("events")).toBe(1);
  });

  it("rejects a taken unique value and rolls back", async () => {
    const store = await open();
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
    const store = await open();
    await store.append([write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME] })]);

    await store.append([
      write(USER_1, 1, [event("user.renamed")], { removeUnique: [USERNAME] }),
      write(USER_2, 0, [event("user.added")], { addUnique: [USERNAME] }),
    ]);

    expect(await store.findUnique(USERNAME)).toBe("u2");
    await store.append([write(USER_2, 1, [event("user.removed")], { removeUnique: [USERNAME] })]);
    expect(await store.findUnique(USERNAME)).toBeUndefined();
  });

  it("keeps a lookup value for several aggregates, in ascending order", async () => {
    const store = await open();
    const user10 = { type: "user", id: "u10" };

    await store.append([
      write(USER_2, 0, [event("user.added")], { addLookup: [EMAIL] }),
      write(user10, 0, [event("user.added")], { addLookup: [EMAIL, EMAIL] }),
      write(USER_1, 0, [event("user.added")], { addLookup: [EMAIL] }),
    ]);
    expect(await store.findLookup(EMAIL)).toEqual(["u1", "u10", "u2"]);

    await store.append([write(USER_2, 1, [event("user.email.changed")], { removeLookup: [EMAIL] })]);
    expect(await store.findLookup(EMAIL)).toEqual(["u1", "u10"]);
    expect(await store.findLookup({ ...EMAIL, kind: "other" })).toEqual([]);
  });

  it("applies lookup removals before additions within a write", async () => {
    const store = await open();
    await store.append([write(USER_1, 0, [event("user.added")], { addLookup: [EMAIL] })]);

    await store.append([write(USER_1, 1, [event("user.touched")], { removeLookup: [EMAIL], addLookup: [EMAIL] })]);

    expect(await store.findLookup(EMAIL)).toEqual(["u1"]);
  });

  it("pages through all events with readAfter", async () => {
    const store = await open();
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
    const one = await open({ instanceId: "one" });
    const two = await open({ instanceId: "two" });
    await one.append([write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME], addLookup: [EMAIL] })]);

    await two.append([write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME] })]);

    expect(await one.readAggregate(USER_1)).toHaveLength(1);
    expect(await two.readAggregate(USER_1)).toHaveLength(1);
    expect(await two.readAfter(0, 10)).toEqual(await two.readAggregate(USER_1));
    expect(await two.findUnique(USERNAME)).toBe("u1");
    expect(await two.findLookup(EMAIL)).toEqual([]);
    expect(await one.findLookup(EMAIL)).toEqual(["u1"]);
  });

  it("keeps data on reopen without re-running migrations", async () => {
    const first = await open();
    await first.append([write(USER_1, 0, [event("user.added", { a: 1 })])]);
    await first.close();

    const second = await open();

    expect(await backend.count("schema_migrations")).toBe(backend.migrationCount);
    expect(await backend.migrateAgain(second)).toEqual([]);
    expect((await second.readAggregate(USER_1)).map((e) => e.payload)).toEqual([{ a: 1 }]);
  });

  it("reports ready until closed, and closes idempotently", async () => {
    const store = await open();
    expect(await store.ready()).toBe(true);

    await store.close();
    await store.close();

    expect(await store.ready()).toBe(false);
  });

  it("lets exactly one of two connections append at the same expected sequence", async () => {
    const a = await open();
    const b = await open();

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

  it("checks an expected sequence against what another connection appended since this one's last append", async () => {
    const a = await open();
    const b = await open();
    await a.append([write(USER_1, 0, [event("user.added")])]);
    await b.append([write(USER_1, 1, [event("user.changed")])]);

    await expect(a.append([write(USER_1, 1, [event("user.changed")])])).rejects.toMatchObject({
      name: "ConcurrencyError",
      expectedSequence: 1,
      actualSequence: 2,
    });
    await expect(a.append([write(USER_1, 2, [event("user.changed")])])).resolves.toMatchObject([{ sequence: 3 }]);
    // nor may it run ahead of the store
    await expect(b.append([write(USER_1, 7, [event("user.changed")])])).rejects.toMatchObject({ expectedSequence: 7, actualSequence: 3 });
    expect((await b.readAggregate(USER_1)).map((e) => e.sequence)).toEqual([1, 2, 3]);
  });

  it("lets exactly one of two connections take a unique value", async () => {
    const a = await open();
    const b = await open();

    const results = await Promise.allSettled([
      a.append([write(USER_1, 0, [event("user.added")], { addUnique: [USERNAME] })]),
      b.append([write(USER_2, 0, [event("user.added")], { addUnique: [USERNAME] })]),
    ]);

    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({
      reason: expect.any(UniqueConstraintError),
    });
    expect(await backend.count("events")).toBe(1);
  });
});
