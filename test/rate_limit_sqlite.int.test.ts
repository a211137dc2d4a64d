import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSqliteEventStore, type SqliteEventStore } from "../src/eventstore/sqlite.js";
import { memoryRateLimitStore } from "../src/ratelimit/store.js";

// Counters share the event store's connection; their writes must leave its settings as they were.
const dirs: string[] = [];
const stores: SqliteEventStore[] = [];

function open(file?: string): SqliteEventStore {
  if (!file) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-limits-"));
    dirs.push(dir);
    file = path.join(dir, "latchkey.db");
  }
  const store = openSqliteEventStore({ file });
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const memoryStore = (store: SqliteEventStore) =>
  memoryRateLimitStore({ load: (at) => store.loadCounters(at), save: (counters, at) => store.saveCounters(counters, at) });
const savedCount = (store: SqliteEventStore) => store.db.prepare("SELECT count(*) FROM rate_limits").pluck().get();

describe("rate limit counters with the SQLite file", () => {
  it("count in memory, without a statement on the call's path", async () => {
    const store = open();
    const limits = memoryStore(store);
    const limiter = limits.limiter({ keyPrefix: "t", points: 2, duration: 60 });
    expect((await limiter.consume("k")).consumedPoints).toBe(1);
    expect((await limiter.consume("k")).consumedPoints).toBe(2);
    await expect(limiter.consume("k")).rejects.toMatchObject({ consumedPoints: 3 });
    expect(savedCount(store)).toBe(0);
    await limits.close();
    expect(savedCount(store)).toBe(1);
  });

  it("are saved and read back by the next process on the file, each limit with its own counters", async () => {
    const first = open();
    const file = first.db.name;
    const limits = memoryStore(first);
    const a = limits.limiter({ keyPrefix: "a", points: 5, duration: 60 });
    const b = limits.limiter({ keyPrefix: "b", points: 5, duration: 60 });
    for (let i = 0; i < 3; i++) await a.consume("k");
    await b.consume("k");
    await limits.close();
    await first.close();

    const second = open(file);
    const again = memoryStore(second);
    expect((await again.limiter({ keyPrefix: "a", points: 5, duration: 60 }).consume("k")).consumedPoints).toBe(4);
    expect((await again.limiter({ keyPrefix: "b", points: 5, duration: 60 }).consume("k")).consumedPoints).toBe(2);
    await again.close();
  });

  it("drop counters whose window ended", async () => {
    const store = open();
    await store.saveCounters([{ key: "a:old", points: 9, expire: Date.now() - 1 }, { key: "a:new", points: 2, expire: Date.now() + 60_000 }], Date.now());
    expect(store.db.prepare("SELECT key FROM rate_limits").pluck().all()).toEqual(["a:new"]);
    const limiter = memoryStore(store).limiter({ keyPrefix: "a", points: 5, duration: 60 });
    expect((await limiter.consume("old")).consumedPoints).toBe(1);
    expect((await limiter.consume("new")).consumedPoints).toBe(3);
  });
});
