/**
 * The database an instance keeps its state in: the SQLite file in the data
 * directory (the default), or a PostgreSQL database several instances share.
 * The notifier's state and the rate limit counters live in the same database
 * (see notification/state_for.ts and ratelimit/store.ts).
 */
import path from "node:path";
import type { MessagePort } from "node:worker_threads";
import { DATABASE_FILE, ensureDataDir } from "./data_dir.js";
import { openPostgresEventStore, type PostgresEventStore } from "./postgres.js";
import { openSqliteEventStore, type SqliteEventStore } from "./sqlite.js";

export type BackendKind = "sqlite" | "postgresql";

/** The opened store, by kind: what the notifier's state and the rate limit counters are built on. */
export type Backend = { readonly kind: "sqlite"; readonly store: SqliteEventStore } | { readonly kind: "postgresql"; readonly store: PostgresEventStore };

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
    return { kind: "postgresql", store: await openPostgresEventStore({ url: options.databaseUrl, ...now }) };
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
  return { kind: "sqlite", store };
}

/** Where the state lives, for log lines and messages: never the database password. */
export function describeBackend(options: BackendOptions): string {
  if (!options.databaseUrl) return path.join(options.dataDir, DATABASE_FILE);
  const url = new URL(options.databaseUrl);
  url.password = "";
  url.username = "";
  return url.toString();
}
