import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSqliteEventStore, type SqliteEventStore } from "../src/eventstore/sqlite.js";
import { sqliteRateLimitStore } from "../src/ratelimit/store.js";

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

describe("SQLite rate limit counters", () => {
  it("count on the event store's connection and leave its durability and lock settings as they were", async () => {
    const store = open();
    const limiter = sqliteRateLimitStore(store.db, { sharedWriters: true }).limiter({ keyPrefix: "t", points: 2, duration: 60 });
    expect((await limiter.consume("k")).consumedPoints).toBe(1);
    expect((await limiter.consume("k")).consumedPoints).toBe(2);
    await expect(limiter.consume("k")).rejects.toMatchObject({ consumedPoints: 3 });
    expect(store.db.pragma("synchronous", { simple: true })).toBe(2);
    expect(store.db.pragma("busy_timeout", { simple: true })).toBe(5000);
  });

  it("with shared writers, wait for another connection's write lock without blocking the event loop", async () => {
    const store = open(undefined, true);
    const other = open(store.db.name);
    const limiter = sqliteRateLimitStore(store.db, { sharedWriters: true }).limiter({ keyPrefix: "t", points: 5, duration: 60 });
    other.db.exec("BEGIN IMMEDIATE");
    const consumed = limiter.consume("k");
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await new Promise((resolve) => setTimeout(resolve, 100));
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(3);
    other.db.exec("COMMIT");
    expect((await consumed).consumedPoints).toBe(1);
  });
});
