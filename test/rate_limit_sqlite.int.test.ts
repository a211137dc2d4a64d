import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSqliteEventStore, type SqliteEventStore } from "../src/eventstore/sqlite.js";
import { MessageChannel } from "node:worker_threads";
import { createRateLimits } from "../src/ratelimit/limits.js";
import { enabledLimits, remoteRateLimits, serveRateLimits } from "../src/ratelimit/remote.js";
import { DEFAULT_RATE_LIMITS } from "../src/ratelimit/rules.js";
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

describe("rate limits counted by another thread (--workers)", () => {
  it("count every thread's calls on the one set of counters, and refuse past the limit", async () => {
    const store = open();
    const owner = createRateLimits(memoryStore(store), { ...DEFAULT_RATE_LIMITS, anonymousPerIp: { points: 3, periodSeconds: 60 } });
    const ports = [new MessageChannel(), new MessageChannel()];
    for (const { port1 } of ports) serveRateLimits(port1, owner);
    const [a, b] = ports.map(({ port2 }) => remoteRateLimits(port2, enabledLimits(owner)));
    try {
      // the same caller through two threads, in one turn of each thread's loop
      const statuses = await Promise.all([a, b, a, b, a].map((limits) => limits!.anonymousPerIp!.consume("caller")));
      expect(statuses.filter((s) => s.retryAfterMs === undefined)).toHaveLength(3);
      expect(statuses.filter((s) => s.retryAfterMs !== undefined)).toHaveLength(2);
      expect((await owner.anonymousPerIp!.consume("caller")).retryAfterMs).toBeGreaterThan(0);
      // a point given back through one thread is back for the other
      expect((await a!.anonymousPerIp!.consume("another")).remaining).toBe(2);
      expect((await b!.anonymousPerIp!.refund("another")).remaining).toBe(3);
      expect((await a!.anonymousPerIp!.consume("another")).remaining).toBe(2);
      expect(Object.keys(a!).sort()).toEqual(Object.keys(owner).sort());
    } finally {
      for (const { port1, port2 } of ports) {
        port1.close();
        port2.close();
      }
    }
  });

  it("fail the call when the counting thread is gone", async () => {
    const store = open();
    const owner = createRateLimits(memoryStore(store), DEFAULT_RATE_LIMITS);
    const { port1, port2 } = new MessageChannel();
    const remote = remoteRateLimits(port2, enabledLimits(owner));
    const pending = remote.resetPerToken!.consume("token");
    port1.close();
    await expect(pending).rejects.toThrow(/the counting thread is gone/);
  });
});
