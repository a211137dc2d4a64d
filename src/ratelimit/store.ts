/**
 * Where rate limit counters live. A store hands out rate-limiter-flexible
 * limiters. On PostgreSQL the counters are in the database, shared by every
 * instance on it; with the SQLite file they are in memory and saved to the
 * file behind the calls (see memoryRateLimitStore), so limits hold across
 * restarts without a statement on any call's path.
 */
import type { Pool, QueryConfig } from "pg";
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type IRateLimiterOptions, type RateLimiterAbstract } from "rate-limiter-flexible";
import { mapConnectionErrors } from "../eventstore/postgres_pool.js";
import type { Backend } from "../eventstore/open.js";

export interface LimiterOptions {
  /** keeps the counters of different limiters apart */
  keyPrefix: string;
  points: number;
  /** seconds */
  duration: number;
}

export interface RateLimitStore {
  limiter(options: LimiterOptions): RateLimiterAbstract;
  /** stops background work and saves what is not saved yet; the database itself belongs to the event store */
  close(): Promise<void>;
}

/** Created by SQLite migration 4 and PostgreSQL migration 3 with the columns the limiters expect. */
const TABLE = "rate_limits";
const SWEEP_INTERVAL_MS = 5 * 60_000;

/** A counter as kept in the table `rate_limits`: its key (limit and hashed caller), points used, end of its window (ms). */
export interface SavedCounter {
  key: string;
  points: number;
  expire: number;
}

/** Where counters kept in memory are saved, so that a restart does not reset them. */
export interface CounterSink {
  /** the counters whose window has not ended */
  load(now: number): SavedCounter[];
  /** replaces the saved values of these counters and drops the ones whose window ended */
  save(counters: readonly SavedCounter[], now: number): Promise<void>;
}

const SAVE_INTERVAL_MS = 1000;

/**
 * Counters in this process's memory, counted without any I/O on the call's
 * path. What changed is saved through `sink` once a second and on close, and
 * read back at start: a restart keeps the counts (up to the last second's),
 * a process crash loses at most that second.
 */
export function memoryRateLimitStore(sink: CounterSink, logger?: { warn(obj: object, msg: string): void }): RateLimitStore {
  const saved = new Map(sink.load(Date.now()).map((c) => [c.key, c]));
  const changed = new Map<string, SavedCounter>();
  const note = (key: string, res: RateLimiterRes) => {
    changed.set(key, { key, points: res.consumedPoints, expire: Date.now() + Math.max(res.msBeforeNext, 0) });
  };
  let saving: Promise<void> = Promise.resolve();
  const flush = () => {
    if (changed.size === 0) return saving;
    const batch = [...changed.values()];
    changed.clear();
    saving = saving
      .then(() => sink.save(batch, Date.now()))
      .catch((err: unknown) => logger?.warn({ err }, "rate limit counters could not be saved"));
    return saving;
  };
  const timer = setInterval(() => void flush(), SAVE_INTERVAL_MS).unref();

  return {
    limiter(options) {
      const limiter = new NotingMemoryLimiter({ ...options }, note);
      const prefix = `${options.keyPrefix}:`;
      const now = Date.now();
      for (const counter of saved.values()) {
        if (counter.key.startsWith(prefix) && counter.expire > now) {
          void limiter.seed(counter.key.slice(prefix.length), counter.points, (counter.expire - now) / 1000);
        }
      }
      return limiter;
    },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}

/** RateLimiterMemory that tells `note` the new value of every counter it changes. */
class NotingMemoryLimiter extends RateLimiterMemory {
  constructor(
    options: IRateLimiterOptions,
    private readonly note: (key: string, res: RateLimiterRes) => void,
  ) {
    super(options);
  }

  override consume(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    return this.noted(key, super.consume(key, points, options));
  }

  override reward(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    return this.noted(key, super.reward(key, points, options));
  }

  seed(key: string, points: number, seconds: number): Promise<RateLimiterRes> {
    return super.set(key, points, seconds);
  }

  private noted(key: string | number, result: Promise<RateLimiterRes>): Promise<RateLimiterRes> {
    const record = (res: unknown) => {
      if (res instanceof RateLimiterRes) this.note(this.getKey(key), res);
    };
    result.then(record, record);
    return result;
  }
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
    close: async () => clearInterval(sweep),
  };
}

/** The counters in the backend's own database: kept in memory and saved through the writer on SQLite, in a table on PostgreSQL. */
export function rateLimitStoreFor(backend: Backend): RateLimitStore {
  if (backend.kind === "postgresql") {
    // A counter is not worth an fsync per call: a crash of the database may lose
    // the last moments' counts, as the SQLite counters saved once a second may.
    const pool = backend.store.openPool({ max: 4, application_name: "latchkey rate limits", options: "-c synchronous_commit=off" });
    const store = postgresRateLimitStore(pool);
    return { limiter: store.limiter, close: () => store.close().then(() => pool.end()) };
  }
  const { store } = backend;
  return memoryRateLimitStore({ load: (at) => store.loadCounters(at), save: (counters, at) => store.saveCounters(counters, at) });
}
