/**
 * Where rate limit counters live: the event store's database, so limits hold
 * across restarts and for every process on that database. A store hands out
 * rate-limiter-flexible limiters; another database needs only another store
 * (SQLite and PostgreSQL here).
 */
import Database from "better-sqlite3";
import type { Pool, QueryConfig } from "pg";
import { RateLimiterPostgres, RateLimiterSQLite, type RateLimiterAbstract } from "rate-limiter-flexible";
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
 * Counters in the SQLite file, on a connection of their own that commits
 * without fsync (synchronous=NORMAL in WAL mode): a crash of the process loses
 * nothing, a power cut may lose the last counts. That keeps the limiter off the
 * disk's flush, which the events alone pay for.
 */
export function sqliteRateLimitStore(file: string): RateLimitStore {
  const db = new Database(file, { timeout: 5000 });
  db.pragma("synchronous = NORMAL");
  const client = preparedOnce(db);
  // Our own sweep instead of the library's, which would keep running on a closed database.
  const sweep = setInterval(() => {
    if (db.open) db.prepare(`DELETE FROM ${TABLE} WHERE expire < ?`).run(Date.now());
  }, SWEEP_INTERVAL_MS).unref();
  return {
    limiter: (options) =>
      new RateLimiterSQLite({
        ...options,
        storeClient: client,
        storeType: "better-sqlite3",
        tableName: TABLE,
        tableCreated: true,
        clearExpiredByTimeout: false,
      }),
    close: () => {
      clearInterval(sweep);
      db.close();
    },
  };
}

/**
 * The connection as RateLimiterSQLite uses it (`prepare`, `transaction`),
 * with each statement prepared once instead of on every call. Its
 * transactions wrap a single upsert, which SQLite already runs atomically, so
 * they run as that statement alone.
 */
function preparedOnce(db: Database.Database): Pick<Database.Database, "prepare" | "transaction"> {
  const statements = new Map<string, Database.Statement>();
  return {
    prepare: ((sql: string) => {
      let statement = statements.get(sql);
      if (!statement) {
        statement = db.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    }) as Database.Database["prepare"],
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
