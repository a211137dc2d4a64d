import Database from "better-sqlite3";
import {
  ConcurrencyError,
  UniqueConstraintError,
  type AggregateRef,
  type AggregateWrite,
  type EventStore,
  type Lookup,
  type StoredEvent,
  type UniqueConstraint,
} from "./eventstore.js";
import { AggregateCache } from "./aggregate_cache.js";
import { migrateSqlite, sqliteMigrations } from "./sqlite_migrations.js";

export interface SqliteEventStoreOptions {
  readonly file: string;
  readonly instanceId?: string;
  readonly now?: () => Date;
  readonly synchronous?: "FULL" | "NORMAL";
  /**
   * Other processes write to the file all the time (`--workers`): wait for
   * their write lock without blocking the event loop. Off, a write waits in
   * SQLite's busy handler, which costs nothing while nobody else writes.
   */
  readonly sharedWriters?: boolean;
}

export interface SqliteEventStore extends EventStore {
  /** The raw connection; other modules keep their own tables in the same file. */
  readonly db: Database.Database;
  readonly sharedWriters: boolean;
}

interface EventRow {
  position: number;
  instance_id: string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  event_type: string;
  payload: string;
  created_at: number;
  resource_owner: string;
  editor: string;
}

interface PendingAppend {
  readonly writes: readonly AggregateWrite[];
  resolve(stored: StoredEvent[]): void;
  reject(err: unknown): void;
}

type Outcome = { stored: StoredEvent[] } | { error: Error };

type AggregateKey = [instanceId: string, type: string, id: string];
type UniqueKey = [instanceId: string, kind: string, value: string];
type LookupKey = [instanceId: string, kind: string, value: string];

const EVENT_COLUMNS =
  "position, instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor";

export function openSqliteEventStore(options: SqliteEventStoreOptions): SqliteEventStore {
  const db = openDatabase(options.file, options.synchronous ?? "FULL");
  try {
    migrateSqlite(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return createStore(db, options.instanceId ?? "default", options.now ?? (() => new Date()), options.sharedWriters ?? false);
}

const BUSY_TIMEOUT_MS = 5000;
/** events kept in memory for reading aggregates (see aggregate_cache.ts) */
const AGGREGATE_CACHE_EVENTS = 100_000;

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

function createStore(db: Database.Database, instanceId: string, now: () => Date, sharedWriters: boolean): SqliteEventStore {
  const stmt = {
    maxSequence: db
      .prepare<AggregateKey, number>(
        `SELECT coalesce(max(sequence), 0) FROM events
         WHERE instance_id = ? AND aggregate_type = ? AND aggregate_id = ?`,
      )
      .pluck(),
    insertEvent: db.prepare<[Omit<EventRow, "position">]>(
      `INSERT INTO events (instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor)
       VALUES (@instance_id, @aggregate_type, @aggregate_id, @sequence, @event_type, @payload, @created_at, @resource_owner, @editor)`,
    ),
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
    insertUnique: db.prepare<[...UniqueKey, string]>(
      "INSERT INTO unique_constraints (instance_id, kind, value, aggregate_id) VALUES (?, ?, ?, ?)",
    ),
    deleteUnique: db.prepare<UniqueKey>(
      "DELETE FROM unique_constraints WHERE instance_id = ? AND kind = ? AND value = ?",
    ),
    findUnique: db
      .prepare<UniqueKey, string>(
        "SELECT aggregate_id FROM unique_constraints WHERE instance_id = ? AND kind = ? AND value = ?",
      )
      .pluck(),
    insertLookup: db.prepare<[...LookupKey, string]>(
      "INSERT OR IGNORE INTO lookups (instance_id, kind, value, aggregate_id) VALUES (?, ?, ?, ?)",
    ),
    deleteLookup: db.prepare<[...LookupKey, string]>(
      "DELETE FROM lookups WHERE instance_id = ? AND kind = ? AND value = ? AND aggregate_id = ?",
    ),
    findLookup: db
      .prepare<LookupKey, string>(
        "SELECT aggregate_id FROM lookups WHERE instance_id = ? AND kind = ? AND value = ? ORDER BY aggregate_id",
      )
      .pluck(),
    ping: db.prepare<[], number>("SELECT 1").pluck(),
    migrated: db
      .prepare<[number], number>("SELECT 1 FROM schema_migrations WHERE version = ?")
      .pluck(),
  };
  const latestVersion = sqliteMigrations.at(-1)?.version ?? 0;
  const cache = new AggregateCache(AGGREGATE_CACHE_EVENTS);
  const cacheKey = (aggregate: AggregateRef) => `${aggregate.type}/${aggregate.id}`;

  function currentSequence(aggregate: AggregateRef): number {
    return stmt.maxSequence.get(instanceId, aggregate.type, aggregate.id) ?? 0;
  }

  function appendWrite(write: AggregateWrite, createdAt: number): StoredEvent[] {
    const { aggregate, expectedSequence } = write;
    const actual = currentSequence(aggregate);
    if (actual !== expectedSequence) {
      throw new ConcurrencyError(aggregate, expectedSequence, actual);
    }
    const stored = write.events.map((event, i) => {
      const row = {
        instance_id: instanceId,
        aggregate_type: aggregate.type,
        aggregate_id: aggregate.id,
        sequence: expectedSequence + i + 1,
        event_type: event.type,
        payload: JSON.stringify(event.payload),
        created_at: createdAt,
        resource_owner: write.resourceOwner,
        editor: event.editor,
      };
      const result = insertOrThrow(
        () => stmt.insertEvent.run(row),
        () => new ConcurrencyError(aggregate, expectedSequence, currentSequence(aggregate)),
      );
      return toStoredEvent({ ...row, position: Number(result.lastInsertRowid) });
    });
    updateUniques(write);
    updateLookups(write);
    return stored;
  }

  function updateLookups(write: AggregateWrite): void {
    for (const lookup of write.removeLookup ?? []) {
      stmt.deleteLookup.run(instanceId, lookup.kind, lookup.value, write.aggregate.id);
    }
    for (const lookup of write.addLookup ?? []) {
      stmt.insertLookup.run(instanceId, lookup.kind, lookup.value, write.aggregate.id);
    }
  }

  // Removals first, so a write that removes and re-adds the same value succeeds.
  function updateUniques(write: AggregateWrite): void {
    for (const unique of write.removeUnique ?? []) {
      stmt.deleteUnique.run(instanceId, unique.kind, unique.value);
    }
    for (const unique of write.addUnique ?? []) {
      insertOrThrow(
        () => stmt.insertUnique.run(instanceId, unique.kind, unique.value, write.aggregate.id),
        () => new UniqueConstraintError(unique),
      );
    }
  }

  // One write's savepoint inside the group's transaction: its domain error
  // undoes only its own rows.
  const appendOne = db.transaction((writes: readonly AggregateWrite[], createdAt: number): StoredEvent[] =>
    writes.flatMap((write) => appendWrite(write, createdAt)),
  );

  const commitGroup = db.transaction((group: readonly PendingAppend[]): Outcome[] => {
    const createdAt = now().getTime();
    return group.map((pending) => {
      try {
        return { stored: appendOne(pending.writes, createdAt) };
      } catch (err) {
        if (err instanceof ConcurrencyError || err instanceof UniqueConstraintError) return { error: err };
        throw err;
      }
    });
  });

  // Group commit: appends that arrive while the event loop is busy share one
  // transaction and so one fsync. Each caller still hears back only after the
  // commit that holds its events.
  let queue: PendingAppend[] = [];
  let flushScheduled = false;
  let busySince: number | undefined;

  function scheduleFlush(delayMs = 0): void {
    if (flushScheduled) return;
    flushScheduled = true;
    if (delayMs === 0) setImmediate(flush);
    else setTimeout(flush, delayMs);
  }

  function flush(): void {
    flushScheduled = false;
    const group = queue;
    queue = [];
    if (group.length === 0) return;
    let outcomes: Outcome[];
    try {
      outcomes = commitWithoutBlocking(group);
    } catch (err) {
      if (isBusy(err) && Date.now() - (busySince ??= Date.now()) < BUSY_TIMEOUT_MS) {
        // another process holds the write lock: wait for it without blocking
        // the event loop, and take whatever arrives meanwhile into the group
        queue = [...group, ...queue];
        scheduleFlush(1);
        return;
      }
      busySince = undefined;
      for (const pending of group) pending.reject(err);
      return;
    }
    busySince = undefined;
    settle(group, outcomes);
  }

  function settle(group: readonly PendingAppend[], outcomes: readonly Outcome[]): void {
    outcomes.forEach((outcome, i) => {
      const pending = group[i]!;
      if ("stored" in outcome) pending.resolve(outcome.stored);
      else pending.reject(outcome.error);
    });
  }

  /** The group's transaction, failing at once with SQLITE_BUSY instead of sleeping in SQLite's busy handler. */
  function commitWithoutBlocking(group: readonly PendingAppend[]): Outcome[] {
    if (!sharedWriters) return commitGroup.immediate(group);
    db.pragma("busy_timeout = 0");
    try {
      return commitGroup.immediate(group);
    } finally {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  return {
    db,
    sharedWriters,
    append(writes) {
      return new Promise<StoredEvent[]>((resolve, reject) => {
        queue.push({ writes, resolve, reject });
        scheduleFlush();
      });
    },
    async readAggregate(aggregate: AggregateRef) {
      const key = cacheKey(aggregate);
      const known = cache.get(key) ?? [];
      const later = stmt.readAggregate.all(instanceId, aggregate.type, aggregate.id, known.length).map(toStoredEvent);
      cache.extend(key, later);
      return [...known, ...later];
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
        return stmt.ping.get() === 1 && stmt.migrated.get(latestVersion) !== undefined;
      } catch {
        return false;
      }
    },
    async close() {
      // what is still queued gets its one chance, waiting on the lock if it must
      if (queue.length > 0) {
        const group = queue;
        queue = [];
        try {
          settle(group, commitGroup.immediate(group));
        } catch (err) {
          for (const pending of group) pending.reject(err);
        }
      }
      if (db.open) db.close();
    },
  };
}

/** Runs an insert, turning a UNIQUE / PRIMARY KEY violation into the domain error. */
function insertOrThrow(insert: () => Database.RunResult, toError: () => Error): Database.RunResult {
  try {
    return insert();
  } catch (err) {
    if (isUniqueViolation(err)) throw toError();
    throw err;
  }
}

function isBusy(err: unknown): boolean {
  return err instanceof Database.SqliteError && (err.code === "SQLITE_BUSY" || err.code === "SQLITE_BUSY_SNAPSHOT");
}

function isUniqueViolation(err: unknown): boolean {
  return (
    err instanceof Database.SqliteError &&
    (err.code === "SQLITE_CONSTRAINT_UNIQUE" || err.code === "SQLITE_CONSTRAINT_PRIMARYKEY")
  );
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    position: row.position,
    instanceId: row.instance_id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    sequence: row.sequence,
    type: row.event_type,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    createdAt: new Date(row.created_at),
    resourceOwner: row.resource_owner,
    editor: row.editor,
  };
}
