/**
 * The database an instance keeps its state in: the SQLite file in the data
 * directory (the default), or a PostgreSQL database several instances share.
 * Each backend hands out the event store, the notifier's state and the rate
 * limit counters, all in that one database.
 */
import path from "node:path";
import type { MessagePort } from "node:worker_threads";
import type { EventStore } from "../eventstore/eventstore.js";
import { openPostgresEventStore } from "../eventstore/postgres.js";
import { openSqliteEventStore } from "../eventstore/sqlite.js";
import { postgresNotificationState } from "../notification/postgres_state.js";
import { sqliteNotificationState, type NotificationState } from "../notification/state.js";
import { memoryRateLimitStore, postgresRateLimitStore, type RateLimitStore } from "../ratelimit/store.js";
import { DATABASE_FILE, ensureDataDir } from "./data_dir.js";

export type BackendKind = "sqlite" | "postgresql";

export interface Backend {
  readonly kind: BackendKind;
  readonly store: EventStore;
  notificationState(options: { leaseMs: number }): NotificationState;
  rateLimitStore(): RateLimitStore;
  /** on SQLite: a port to the event store's writer, for a store in another thread */
  writerPort?(): MessagePort;
}

export interface BackendOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  clock?: (() => Date) | undefined;
  /** on SQLite, append through this port to a writer another thread started (see sqlite_writer_client.ts) */
  sqliteWriter?: MessagePort | undefined;
}

/** Opens the database and applies its migrations; creates the data directory for a SQLite file. */
export async function openBackend(options: BackendOptions): Promise<Backend> {
  const now = options.clock && { now: options.clock };
  if (options.databaseUrl) {
    const store = await openPostgresEventStore({ url: options.databaseUrl, ...now });
    return {
      kind: "postgresql",
      store,
      notificationState: ({ leaseMs }) => postgresNotificationState(store.pool, { leaseMs }),
      rateLimitStore: () => postgresRateLimitStore(store.pool),
    };
  }
  ensureDataDir(options.dataDir);
  const store = openSqliteEventStore({
    file: path.join(options.dataDir, DATABASE_FILE),
    ...now,
    ...(options.sqliteWriter && { writer: options.sqliteWriter }),
  });
  try {
    await store.writerReady;
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    kind: "sqlite",
    store,
    notificationState: () => sqliteNotificationState(store.db),
    writerPort: () => store.writerPort(),
    rateLimitStore: () => memoryRateLimitStore({ load: (at) => store.loadCounters(at), save: (counters, at) => store.saveCounters(counters, at) }),
  };
}

/** Where the state lives, for log lines and messages: never the database password. */
export function describeBackend(options: BackendOptions): string {
  if (!options.databaseUrl) return path.join(options.dataDir, DATABASE_FILE);
  const url = new URL(options.databaseUrl);
  url.password = "";
  url.username = "";
  return url.toString();
}
