/**
 * Where rate limit counters live: the event store's database, so limits hold
 * across restarts and for every process on that database. A store hands out
 * rate-limiter-flexible limiters; another database needs only another store
 * (SQLite and PostgreSQL here).
 */
import Database from "better-sqlite3";
import type { Pool, QueryConfig } from "pg";
import { RateLimiterPostgres, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from "rate-limiter-flexible";
import { mapConnectionErrors } from "../eventstore/postgres_pool.js";

export interface LimiterOptions {
  /** keeps the counters of different limiters apart */
  keyPrefix: string;
  points: number;
  /** seconds */
  duration: number;
}

export interface RateLimitStore {
  limiter(options: LimiterOptions): RateLimiterAbstract;
  /** stops background work; the database itself belongs to the event store */
  close(): void;
}

/** Created by SQLite migration 4 and PostgreSQL migration 3 with the columns the limiters expect. */
const TABLE = "rate_limits";
const SWEEP_INTERVAL_MS = 5 * 60_000;

/**
 * Counters in the event store's SQLite connection (a second connection would
 * make each discard the other's page cache on every write). Their writes
 * commit without fsync (synchronous=NORMAL in WAL mode): a crash of the
 * process loses nothing, a power cut may lose the last counts, and the limiter
 * stays off the disk's flush, which the events alone pay for.
 */
export function sqliteRateLimitStore(db: Database.Database, options: { sharedWriters: boolean }): RateLimitStore {
  const client = limiterClient(db, options.sharedWriters);
  // Our own sweep instead of the library's, which would keep running on a closed database.
  const sweep = setInterval(() => {
    if (db.open) db.prepare(`DELETE FROM ${TABLE} WHERE expire < ?`).run(Date.now());
  }, SWEEP_INTERVAL_MS).unref();
  return {
    limiter: (options) =>
      new WaitingSqliteLimiter({
        ...options,
        storeClient: client,
        storeType: "better-sqlite3",
        tableName: TABLE,
        tableCreated: true,
        clearExpiredByTimeout: false,
      }),
    close: () => clearInterval(sweep),
  };
}

const BUSY_WAIT_MS = 5000;

/**
 * When other processes share the file (`--workers`) and one holds its write
 * lock, a counter write fails at once instead of sleeping in SQLite's busy
 * handler, and is tried again after the event loop has served others.
 */
class WaitingSqliteLimiter extends RateLimiterSQLite {
  override consume(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    return whileBusy(() => super.consume(key, points, options));
  }

  override reward(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    return whileBusy(() => super.reward(key, points, options));
  }
}

async function whileBusy<T>(write: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (;;) {
    try {
      return await write();
    } catch (err) {
      const busy = err instanceof Database.SqliteError && err.code.startsWith("SQLITE_BUSY");
      if (!busy || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

/**
 * The connection as RateLimiterSQLite uses it (`prepare`, `transaction`).
 * Each statement is prepared once, and one that writes runs without fsync and
 * without waiting on a lock (see above). Its transactions wrap a single upsert, which SQLite
 * already runs atomically, so they run as that statement alone.
 */
function limiterClient(db: Database.Database, sharedWriters: boolean): Pick<Database.Database, "prepare" | "transaction"> {
  const synchronous = db.pragma("synchronous", { simple: true }) as number;
  const busyTimeout = db.pragma("busy_timeout", { simple: true }) as number;
  // pragmas take effect when prepared, so each switch is a fresh one
  const lightly = <T>(run: () => T): T => {
    db.pragma("synchronous = NORMAL");
    if (sharedWriters) db.pragma("busy_timeout = 0");
    try {
      return run();
    } finally {
      db.pragma(`synchronous = ${synchronous}`);
      if (sharedWriters) db.pragma(`busy_timeout = ${busyTimeout}`);
    }
  };
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) {
      const prepared = db.prepare(sql);
      statement = prepared.readonly ? prepared : Object.assign(Object.create(prepared) as Database.Statement, {
        run: (...args: unknown[]) => lightly(() => prepared.run(...args)),
        get: (...args: unknown[]) => lightly(() => prepared.get(...args)),
        all: (...args: unknown[]) => lightly(() => prepared.all(...args)),
      });
      statements.set(sql, statement);
    }
    return statement;
  };
  return {
    prepare: prepare as Database.Database["prepare"],
    transaction: ((fn: (...args: unknown[]) => unknown) => fn) as Database.Database["transaction"],
  };
}

export function postgresRateLimitStore(pool: Pool): RateLimitStore {
  // The limiter talks to this instead of the pool, so a lost connection fails the call as Unavailable.
  const client = { query: (query: QueryConfig) => mapConnectionErrors(() => pool.query(query)) };
  const sweep = setInterval(() => {
    pool.query(`DELETE FROM ${TABLE} WHERE expire < $1`, [Date.now()]).catch(() => {});
  }, SWEEP_INTERVAL_MS).unref();
  return {
    limiter: (options) =>
      new RateLimiterPostgres({
        ...options,
        storeClient: client,
        storeType: "pool",
        tableName: TABLE,
        tableCreated: true,
        clearExpiredByTimeout: false,
      }),
    close: () => clearInterval(sweep),
  };
}
