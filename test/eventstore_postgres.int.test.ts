/**
 * PostgreSQL-only behaviour of the event store: several pools (standing in for
 * several latchkey processes) on one database, commits that finish out of
 * order, and a server that goes away and comes back.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { LatchkeyError } from "../src/errors/errors.js";
import { ConcurrencyError, type AggregateWrite, type NewEvent, type StoredEvent } from "../src/eventstore/eventstore.js";
import { openPostgresEventStore, type PostgresEventStore } from "../src/eventstore/postgres.js";
import { migratePostgres, postgresMigrations } from "../src/eventstore/postgres_migrations.js";
import { createPool } from "../src/eventstore/postgres_pool.js";
import { createDatabase, dropDatabase, startPostgres, type PostgresServer } from "./support/postgres.js";

const USER_1 = { type: "user", id: "u1" };
const USER_2 = { type: "user", id: "u2" };

function event(type: string, payload: Record<string, unknown> = {}): NewEvent {
  return { type, payload, editor: "admin" };
}

function write(aggregate: { type: string; id: string }, expectedSequence: number, events: NewEvent[]): AggregateWrite {
  return { aggregate, resourceOwner: "org1", expectedSequence, events };
}

/** Appends one event at the aggregate's current end, trying again when another append got there first. */
async function appendAtEnd(store: PostgresEventStore, aggregate: { type: string; id: string }, type: string): Promise<void> {
  for (;;) {
    const sequence = (await store.readAggregate(aggregate)).length;
    try {
      await store.append([write(aggregate, sequence, [event(type)])]);
      return;
    } catch (err) {
      if (!(err instanceof ConcurrencyError)) throw err;
    }
  }
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Makes an append of an event of type "held" stop inside its INSERT, after its
 * position is taken and before it commits, until `release()`.
 */
async function holdEvents(url: string) {
  const gate = new pg.Client({ connectionString: url });
  await gate.connect();
  await gate.query(`
    CREATE FUNCTION hold_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.event_type = 'held' THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER hold_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION hold_events();
  `);
  await gate.query("SELECT pg_advisory_lock(4242)");
  return {
    /** sessions of this database waiting for an advisory lock */
    async waiting(): Promise<number> {
      const { rows } = await gate.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_locks
         WHERE locktype = 'advisory' AND NOT granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return Number(rows[0]!.n);
    },
    release: () => gate.query("SELECT pg_advisory_unlock(4242)"),
    /** Ends the sessions waiting for the gate, as a lost connection would. */
    terminateWaiting: () =>
      gate.query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted"),
    close: () => gate.end(),
  };
}

describe("PostgreSQL event store with several pools", () => {
  let url: string;
  let opened: PostgresEventStore[];

  beforeEach(async () => {
    url = await createDatabase(inject("postgresUrl"), "eventstore_pg");
    opened = [];
  });

  afterEach(async () => {
    for (const store of opened) await store.close();
    await dropDatabase(url);
  });

  async function open(): Promise<PostgresEventStore> {
    const store = await openPostgresEventStore({ url, pool: { max: 4 } });
    opened.push(store);
    return store;
  }

  it("lets one append per aggregate win a race from two pools, and keeps sequences gapless", async () => {
    const [a, b] = [await open(), await open()];
    const aggregates = Array.from({ length: 5 }, (_, i) => ({ type: "user", id: `race${i}` }));

    const results = await Promise.allSettled(
      aggregates.flatMap((aggregate) =>
        Array.from({ length: 6 }, (_, j) => (j % 2 ? a : b).append([write(aggregate, 0, [event("user.added", { j })])])),
      ),
    );

    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(aggregates.length);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(ConcurrencyError);
    for (const aggregate of aggregates) expect(await a.readAggregate(aggregate)).toHaveLength(1);

    await Promise.all(Array.from({ length: 20 }, (_, i) => appendAtEnd(i % 2 ? a : b, USER_1, "user.touched")));

    const events = await b.readAggregate(USER_1);
    expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(events.map((e) => e.position)).toEqual([...events.map((e) => e.position)].sort((x, y) => x - y));
  });

  it("commits the appends of one tick in one transaction, each with its own outcome, time and snapshot", async () => {
    let clockCalls = 0;
    const store = await openPostgresEventStore({ url, pool: { max: 4 }, now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, ++clockCalls)) });
    opened.push(store);
    await store.append([write(USER_1, 0, [event("user.added")])]);
    const snapshot = { model: "user@1", sequence: 0, state: new TextEncoder().encode('{"sequence":0}') };
    const unique = { kind: "username", value: "alice" };

    const results = await Promise.allSettled([
      // one aggregate's events: together in one statement
      store.append([write({ type: "user", id: "a" }, 0, [event("user.added"), event("user.changed")])]),
      store.append([write(USER_1, 0, [event("user.added")])]),
      store.append([{ ...write({ type: "user", id: "s" }, 0, [event("user.added")]), snapshot }]),
      // the same aggregate again in the group, after the first: the general path, which sees it
      store.append([write({ type: "user", id: "a" }, 2, [event("user.changed")])]),
      // several aggregates, unique values: the general path, each in its own savepoint
      store.append([write({ type: "user", id: "b" }, 0, [event("user.added")]), write({ type: "user", id: "c" }, 0, [event("user.added")])]),
      store.append([{ ...write({ type: "user", id: "d" }, 0, [event("user.added")]), addUnique: [unique] }]),
      store.append([{ ...write({ type: "user", id: "e" }, 0, [event("user.added")]), addUnique: [unique] }]),
    ]);

    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ name: "ConcurrencyError", expectedSequence: 0, actualSequence: 1 });
    expect((results[6] as PromiseRejectedResult).reason.name).toBe("UniqueConstraintError");

    const a = await store.readAggregate({ type: "user", id: "a" });
    expect(a.map((e) => [e.sequence, e.type])).toEqual([[1, "user.added"], [2, "user.changed"], [3, "user.changed"]]);
    const stored = (results[0] as PromiseFulfilledResult<StoredEvent[]>).value;
    expect(stored.map((e) => e.position)).toEqual(a.slice(0, 2).map((e) => e.position));
    // each append keeps the time it was made at
    expect(a.map((e) => e.createdAt.getUTCSeconds())).toEqual([2, 2, 5]);
    expect(await store.readAggregate(USER_1)).toHaveLength(1);
    expect(await store.readAggregate({ type: "user", id: "e" })).toEqual([]);
    const all = await store.readAfter(0, 100);
    expect(all.map((e) => e.aggregateId).sort()).toEqual(["a", "a", "a", "b", "c", "d", "s", "u1"]);
    expect(all.map((e) => e.position)).toEqual([...all.map((e) => e.position)].sort((x, y) => x - y));
    const kept = await store.readSnapshot({ type: "user", id: "s" }, "user@1");
    expect(kept && { sequence: kept.sequence, state: new TextDecoder().decode(kept.state) }).toEqual({ sequence: 0, state: '{"sequence":0}' });
  });

  it("applies each migration once when two pools migrate at the same time", async () => {
    const slow = {
      version: 1_000_000,
      name: "slow test migration",
      sql: "CREATE TABLE slow_marker (n integer); SELECT pg_sleep(0.3); INSERT INTO slow_marker VALUES (1);",
    };
    const pools = [createPool(url), createPool(url)];
    try {
      const results = await Promise.all(pools.map((pool) => migratePostgres(pool, [...postgresMigrations, slow])));

      const versions = [...postgresMigrations.map((m) => m.version), slow.version];
      expect(results.flat().sort((x, y) => x - y)).toEqual(versions);
      expect(results).toContainEqual([]);
      const { rows } = await pools[0]!.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      expect(rows.map((r) => r.version)).toEqual(versions);
      expect((await pools[0]!.query("SELECT * FROM slow_marker")).rowCount).toBe(1);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it("opens two stores at once on an empty database", async () => {
    const [a, b] = await Promise.all([open(), open()]);

    await a.append([write(USER_1, 0, [event("user.added")])]);

    expect(await b.readAggregate(USER_1)).toHaveLength(1);
    expect(await b.ready()).toBe(true);
  });

  it("does not let a follower skip an event whose transaction commits after a later one", async () => {
    const [a, b] = [await open(), await open()];
    const gate = await holdEvents(url);
    try {
      // `held` takes the lower position and stops before COMMIT.
      const held = a.append([write(USER_1, 0, [event("held")])]);
      await until(async () => (await gate.waiting()) === 1, "the held append to wait");
      let laterDone = false;
      const later = b.append([write(USER_2, 0, [event("later")])]).then((stored) => ((laterDone = true), stored));
      // The later append either waits for the held one or, if appends were
      // not ordered by commit, gets through with the higher position.
      await until(async () => laterDone || (await gate.waiting()) === 2, "the later append to wait or commit");

      const follower: StoredEvent[] = [];
      const readOn = async () => follower.push(...(await b.readAfter(follower.at(-1)?.position ?? 0, 100)));
      await readOn();
      await gate.release();
      const [[heldEvent], [laterEvent]] = await Promise.all([held, later]);
      await readOn();

      expect(heldEvent!.position).toBeLessThan(laterEvent!.position);
      expect(follower.map((e) => e.type)).toEqual(["held", "later"]);
    } finally {
      await gate.release().catch(() => undefined);
      await gate.close();
    }
  });

  it("lets a follower read every event once, in order, while two pools append", async () => {
    const [a, b] = [await open(), await open()];
    const follower = await open();
    let writing = true;

    const writers = Array.from({ length: 8 }, async (_, w) => {
      const aggregate = { type: "user", id: `writer${w}` };
      for (let i = 0; i < 15; i++) {
        const events = Array.from({ length: 1 + (i % 3) }, () => event("user.touched"));
        await (w % 2 ? a : b).append([write(aggregate, (await a.readAggregate(aggregate)).length, events)]);
      }
    });
    const seen: StoredEvent[] = [];
    const following = (async () => {
      for (;;) {
        const done = !writing;
        const page = await follower.readAfter(seen.at(-1)?.position ?? 0, 7);
        seen.push(...page);
        if (done && page.length === 0) return;
      }
    })();
    await Promise.all(writers);
    writing = false;
    await following;

    const all = await follower.readAfter(0, 10_000);
    expect(all).toHaveLength(8 * (15 + 15));
    expect(seen.map((e) => e.position)).toEqual(all.map((e) => e.position));
  });
});

describe("PostgreSQL event store when the server goes away", () => {
  let server: PostgresServer;
  let url: string;
  let store: PostgresEventStore | undefined;

  beforeAll(async () => {
    server = await startPostgres();
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(async () => {
    await server.start();
    url = await createDatabase(server.url, "outage");
    store = await openPostgresEventStore({ url, pool: { max: 2, connectionTimeoutMillis: 2000 } });
  });

  afterEach(async () => {
    await store?.close();
  });

  const unavailable = {
    name: "LatchkeyError",
    code: Code.Unavailable,
    message: expect.stringContaining("The database is unavailable"),
    cause: expect.anything(),
  };

  it("fails calls with Unavailable while the server is down, and recovers when it is back", async () => {
    await store!.append([write(USER_1, 0, [event("user.added")])]);

    await server.halt();

    const error = await store!.append([write(USER_1, 1, [event("user.locked")])]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LatchkeyError);
    expect(error).toMatchObject(unavailable);
    await expect(store!.readAggregate(USER_1)).rejects.toMatchObject(unavailable);
    await expect(store!.readAfter(0, 10)).rejects.toMatchObject(unavailable);
    await expect(store!.findUnique({ kind: "username", value: "x" })).rejects.toMatchObject(unavailable);
    await expect(store!.findLookup({ kind: "email", value: "x" })).rejects.toMatchObject(unavailable);
    expect(await store!.ready()).toBe(false);
    await expect(openPostgresEventStore({ url })).rejects.toMatchObject(unavailable);

    await server.start();

    expect(await store!.ready()).toBe(true);
    await store!.append([write(USER_1, 1, [event("user.locked")])]);
    expect((await store!.readAggregate(USER_1)).map((e) => e.sequence)).toEqual([1, 2]);
  });

  it("fails an append whose connection is cut before its commit, and stores none of it", async () => {
    const gate = await holdEvents(url);
    try {
      const held = store!.append([write(USER_1, 0, [event("held")])]).catch((e: unknown) => e);
      await until(async () => (await gate.waiting()) === 1, "the held append to wait");

      await gate.terminateWaiting();

      expect(await held).toMatchObject(unavailable);
      expect(await store!.readAggregate(USER_1)).toEqual([]);
      await store!.append([write(USER_1, 0, [event("user.added")])]);
      expect(await store!.readAggregate(USER_1)).toHaveLength(1);
    } finally {
      await gate.close();
    }
  });
});
