import type { MessagePort } from "node:worker_threads";
import Database from "better-sqlite3";
import type {
  AggregateRef,
  EventStore,
  Lookup,
  Snapshot,
  StoredEvent,
  UniqueConstraint,
} from "./eventstore.js";
import { migrateSqlite, sqliteMigrations } from "./sqlite_migrations.js";
import type { AppendRequest, CounterRow, WriterOptions } from "./sqlite_writer.js";
import { connectWriter, startWriter, type WriterClient } from "./sqlite_writer_client.js";
import { EVENT_COLUMNS, toStoredEvent, type EventRow } from "./rows.js";

export interface SqliteEventStoreOptions {
  readonly file: string;
  readonly instanceId?: string;
  readonly now?: () => Date;
  readonly synchronous?: "FULL" | "NORMAL";
  /**
   * A port to the writer thread of the event store that opened the file first
   * in this process (see `writerPort`); without one, this store starts the writer.
   */
  readonly writer?: MessagePort;
}

export interface SqliteEventStore extends EventStore {
  /** The raw connection, for reading; other modules keep their own tables in the same file. */
  readonly db: Database.Database;
  /** Resolves when the writer thread has opened the file; rejects when it cannot. */
  readonly writerReady: Promise<void>;
  /** The rate limit counters whose window has not ended (see src/ratelimit/store.ts). */
  loadCounters(now: number): CounterRow[];
  /** Saves rate limit counters through the writer and drops those whose window ended. */
  saveCounters(counters: readonly CounterRow[], now: number): Promise<void>;
  /** A new port to this store's writer, for an event store in another thread (option `writer`). */
  writerPort(): MessagePort;
}

type AggregateKey = [instanceId: string, type: string, id: string];
type UniqueKey = [instanceId: string, kind: string, value: string];
type LookupKey = [instanceId: string, kind: string, value: string];

export function openSqliteEventStore(options: SqliteEventStoreOptions): SqliteEventStore {
  // the writer thread opens the file again: an in-memory database would be another one there
  if (options.file === ":memory:" || options.file === "") throw new Error("the SQLite event store needs a file");
  const db = openDatabase(options.file, options.synchronous ?? "FULL");
  try {
    migrateSqlite(db);
  } catch (err) {
    db.close();
    throw err;
  }
  const writer: WriterOptions = {
    file: options.file,
    instanceId: options.instanceId ?? "default",
    synchronous: options.synchronous ?? "FULL",
    busyTimeoutMs: BUSY_TIMEOUT_MS,
  };
  const client = options.writer ? connectWriter(options.writer, writer.instanceId) : startWriter(writer);
  return createStore(db, writer.instanceId, client, options.now ?? (() => new Date()));
}

const BUSY_TIMEOUT_MS = 5000;

/**
 * Switches a database to WAL. SQLite answers SQLITE_BUSY at once, without
 * waiting on the busy timeout, when another process holds a lock on a file that
 * is not in WAL mode yet (two instances starting on a fresh file), so retry.
 */
export function enableWal(db: Database.Database, timeoutMs = BUSY_TIMEOUT_MS): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (err) {
      if (!(err instanceof Database.SqliteError && err.code === "SQLITE_BUSY") || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function openDatabase(file: string, synchronous: "FULL" | "NORMAL"): Database.Database {
  // Pragma values cannot be bound; only these two may reach the SQL text.
  if (synchronous !== "FULL" && synchronous !== "NORMAL") {
    throw new Error(`unsupported synchronous mode: ${String(synchronous)}`);
  }
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    enableWal(db);
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma("foreign_keys = ON");
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function createStore(db: Database.Database, instanceId: string, writer: WriterClient, now: () => Date): SqliteEventStore {
  const stmt = {
    readAggregate: db.prepare<[...AggregateKey, number], EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE instance_id = ? AND aggregate_type = ? AND aggregate_id = ? AND sequence > ? ORDER BY sequence`,
    ),
    // "+instance_id" keeps the planner on the position (rowid) range; through
    // the (instance_id, …) index it would sort every event of the instance.
    readAfter: db.prepare<[number, string, number], EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE position > ? AND +instance_id = ? ORDER BY position LIMIT ?`,
    ),
    readSnapshot: db.prepare<[...AggregateKey, string], { sequence: number; state: Buffer }>(
      "SELECT sequence, state FROM snapshots WHERE instance_id = ? AND aggregate_type = ? AND aggregate_id = ? AND model = ?",
    ),
    findUnique: db
      .prepare<UniqueKey, string>(
        "SELECT aggregate_id FROM unique_constraints WHERE instance_id = ? AND kind = ? AND value = ?",
      )
      .pluck(),
    findLookup: db
      .prepare<LookupKey, string>(
        "SELECT aggregate_id FROM lookups WHERE instance_id = ? AND kind = ? AND value = ? ORDER BY aggregate_id",
      )
      .pluck(),
    loadCounters: db.prepare<[number], CounterRow>("SELECT key, points, expire FROM rate_limits WHERE expire > ?"),
    ping: db.prepare<[], number>("SELECT 1").pluck(),
    migrated: db
      .prepare<[number], number>("SELECT 1 FROM schema_migrations WHERE version = ?")
      .pluck(),
  };
  const latestVersion = sqliteMigrations.at(-1)?.version ?? 0;

  return {
    db,
    writerReady: writer.ready,
    append(writes) {
      return writer.append({ writes, createdAt: now().getTime() });
    },
    loadCounters: (at) => stmt.loadCounters.all(at),
    saveCounters: (counters, at) => writer.saveCounters(counters, at),
    writerPort: () => writer.attach(),
    watchOthers: (listener) => writer.watchOthers(listener),
    async readAggregate(aggregate: AggregateRef, afterSequence = 0) {
      return stmt.readAggregate.all(instanceId, aggregate.type, aggregate.id, afterSequence).map(toStoredEvent);
    },
    async readSnapshot(aggregate: AggregateRef, model: string): Promise<Snapshot | undefined> {
      const row = stmt.readSnapshot.get(instanceId, aggregate.type, aggregate.id, model);
      return row && { model, sequence: row.sequence, state: row.state };
    },
    async readAfter(position: number, limit: number) {
      return stmt.readAfter.all(position, instanceId, limit).map(toStoredEvent);
    },
    async findUnique(constraint: UniqueConstraint) {
      return stmt.findUnique.get(instanceId, constraint.kind, constraint.value);
    },
    async findLookup(lookup: Lookup) {
      return stmt.findLookup.all(instanceId, lookup.kind, lookup.value);
    },
    async ready() {
      try {
        return writer.running() && stmt.ping.get() === 1 && stmt.migrated.get(latestVersion) !== undefined;
      } catch {
        return false;
      }
    },
    async close() {
      // what is still queued gets its chance before the writer stops
      await writer.close();
      if (db.open) db.close();
    },
  };
}

