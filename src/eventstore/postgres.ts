/**
 * The event store on PostgreSQL, for several latchkey instances sharing one database.
 *
 * Global order. `position` comes from an identity column, so it is handed out
 * when a row is inserted, not when its transaction commits. Left alone, two
 * appends could take positions 10 and 11 and commit in the other order: a
 * follower reading `position > checkpoint` in between would see 11, move its
 * checkpoint past 10, and never read 10. So an append takes a transaction-scoped
 * advisory lock for its instance just before inserting its events and holds it
 * until COMMIT: positions are handed out in commit order, and every position
 * below one a reader can see is already committed (or rolled back, leaving a
 * gap). PostgreSQL makes a commit visible before it releases the transaction's
 * locks, so the next holder's position is always the later one.
 *
 * The lock is taken at the start of the transaction, so one instance's
 * transactions commit one at a time. Within a process, appends that arrive
 * while a transaction is under way go together in the next one (group commit),
 * so one commit and its fsync serve them all and the rate grows with the load
 * instead of being bounded by commit latency. The appends that write one
 * aggregate's events go in one statement (postgres_batch.ts); the others each
 * in a savepoint of its own.
 *
 * The alternative, recording `pg_current_xact_id()` with each event and
 * reading only below `pg_snapshot_xmin(pg_current_snapshot())`, keeps appends
 * parallel but orders the stream by (transaction id, position): transaction ids
 * are taken before positions, in a different order. A follower's checkpoint
 * would need both numbers, and `readAfter` takes one.
 */
import type { Pool, PoolClient } from "pg";
import {
  ConcurrencyError,
  UniqueConstraintError,
  type EventStore,
  type Lookup,
  type Snapshot,
  type StoredEvent,
  type UniqueConstraint,
} from "./eventstore.js";
import { GroupCommit, type Outcome } from "./group_commit.js";
import { appendOne } from "./postgres_append.js";
import { appendBatch, batchable, BatchAnomaly, type BatchItem } from "./postgres_batch.js";
import { latestPostgresVersion, migratePostgres } from "./postgres_migrations.js";
import { createPool, mapConnectionErrors, prepared, withTransaction, type PoolOptions } from "./postgres_pool.js";
import { EVENT_COLUMNS, toStoredEvent, type EventRow } from "./rows.js";

/**
 * PostgreSQL's text cannot hold NUL, so no stored key contains one: a key
 * with NUL finds nothing instead of failing the query. Commands refuse NUL in
 * the keys they write.
 */
const hasNul = (...values: string[]) => values.some((v) => v.includes("\0"));

export interface PostgresEventStoreOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  readonly instanceId?: string;
  readonly now?: () => Date;
  readonly pool?: PoolOptions;
}

export interface PostgresEventStore extends EventStore {
  /** The connection pool; other modules keep their own tables in the same database. */
  readonly pool: Pool;
  /** Another pool on the same database, for work whose sessions need other settings; its owner ends it. */
  openPool(options: PoolOptions): Pool;
}

const READ_AGGREGATE = prepared(
  "read_aggregate",
  `SELECT ${EVENT_COLUMNS} FROM events
   WHERE instance_id = $1 AND aggregate_type = $2 AND aggregate_id = $3 AND sequence > $4 ORDER BY sequence`,
);
const READ_SNAPSHOT = prepared(
  "read_snapshot",
  "SELECT sequence, state FROM snapshots WHERE instance_id = $1 AND aggregate_type = $2 AND aggregate_id = $3 AND model = $4",
);
const READ_AFTER = prepared("read_after", `SELECT ${EVENT_COLUMNS} FROM events WHERE instance_id = $1 AND position > $2 ORDER BY position LIMIT $3`);
const FIND_UNIQUE = prepared("find_unique", "SELECT aggregate_id FROM unique_constraints WHERE instance_id = $1 AND kind = $2 AND value = $3");
// "C" sorts by bytes, as SQLite does, whatever the database's collation.
const FIND_LOOKUP = prepared(
  "find_lookup",
  `SELECT aggregate_id FROM lookups WHERE instance_id = $1 AND kind = $2 AND value = $3 ORDER BY aggregate_id COLLATE "C"`,
);

/** Advisory lock (int4, int4) serialising the event inserts of one instance: "lk" and the instance's hash. */
const APPEND_LOCK_SPACE = 0x6c6b0002;

/** Opens the pool and applies the migrations; rejects when the database is unreachable. */
export async function openPostgresEventStore(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
  const pool = createPool(options.url, options.pool);
  try {
    await migratePostgres(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return createStore(pool, options.instanceId ?? "default", options.now ?? (() => new Date()), (more) => createPool(options.url, more));
}

function createStore(pool: Pool, instanceId: string, now: () => Date, openPool: (options: PoolOptions) => Pool): PostgresEventStore {
  let closed = false;

  const isDomainError = (err: unknown): err is Error => err instanceof ConcurrencyError || err instanceof UniqueConstraintError;

  // in the round trip that begins the transaction: no parameters, so one simple query holds both statements
  const takeAppendLock = (client: PoolClient) => `BEGIN; SELECT pg_advisory_xact_lock(${APPEND_LOCK_SPACE}, hashtext(${client.escapeLiteral(instanceId)}))`;

  const group = new GroupCommit<BatchItem, StoredEvent[]>(async (items) => {
    try {
      return await commitGroup(items, true);
    } catch (err) {
      // rolled back: the same group again, every append on the general path
      if (err instanceof BatchAnomaly) return commitGroup(items, false);
      throw err;
    }
  });

  const commitGroup = (items: readonly BatchItem[], batch: boolean) =>
    withTransaction(pool, async (client) => {
      const outcomes = new Array<Outcome<StoredEvent[]>>(items.length);
      const batched = batch ? batchable(items) : [];
      if (batched.length > 0) {
        const results = await appendBatch(client, instanceId, batched.map((i) => items[i]!));
        batched.forEach((i, k) => (outcomes[i] = results[k]!));
      }
      const rest = items.flatMap((item, i) => (outcomes[i] ? [] : [{ item, i }]));
      const alone = items.length === 1;
      for (const { item, i } of rest) {
        if (!alone) await client.query("SAVEPOINT append");
        try {
          outcomes[i] = { ok: await appendOne(client, instanceId, item.writes, item.createdAt) };
          if (!alone) await client.query("RELEASE SAVEPOINT append");
        } catch (err) {
          // a lone append's domain error rolls back the whole transaction, which holds nothing else
          if (alone || !isDomainError(err)) throw err;
          await client.query("ROLLBACK TO SAVEPOINT append");
          outcomes[i] = { error: err };
        }
      }
      return outcomes;
    }, { begin: takeAppendLock });

  return {
    pool,
    openPool,
    append(writes) {
      return group.submit({ writes, createdAt: now() });
    },
    async readAggregate(aggregate, afterSequence = 0) {
      if (hasNul(aggregate.type, aggregate.id)) return [];
      const { rows } = await mapConnectionErrors(() =>
pool.query<EventRow>(READ_AGGREGATE([instanceId, aggregate.type, aggregate.id, afterSequence])),
      );
      return rows.map(toStoredEvent);
    },
    async readSnapshot(aggregate, model): Promise<Snapshot | undefined> {
      if (hasNul(aggregate.type, aggregate.id, model)) return undefined;
      const { rows } = await mapConnectionErrors(() =>
pool.query<{ sequence: string; state: Buffer }>(READ_SNAPSHOT([instanceId, aggregate.type, aggregate.id, model])),
      );
      const row = rows[0];
      return row && { model, sequence: Number(row.sequence), state: row.state };
    },
    async readAfter(position, limit) {
      const { rows } = await mapConnectionErrors(() =>
pool.query<EventRow>(READ_AFTER([instanceId, position, limit])),
      );
      return rows.map(toStoredEvent);
    },
    async findUnique(constraint: UniqueConstraint) {
      if (hasNul(constraint.kind, constraint.value)) return undefined;
      const { rows } = await mapConnectionErrors(() =>
pool.query<{ aggregate_id: string }>(FIND_UNIQUE([instanceId, constraint.kind, constraint.value])),
      );
      return rows[0]?.aggregate_id;
    },
    async findLookup(lookup: Lookup) {
      if (hasNul(lookup.kind, lookup.value)) return [];
      const { rows } = await mapConnectionErrors(() =>
        pool.query<{ aggregate_id: string }>(FIND_LOOKUP([instanceId, lookup.kind, lookup.value])),
      );
      return rows.map((r) => r.aggregate_id);
    },
    async ready() {
      if (closed) return false;
      try {
        const { rowCount } = await pool.query("SELECT 1 FROM schema_migrations WHERE version = $1", [latestPostgresVersion]);
        return rowCount === 1;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await group.settled();
      await pool.end();
    },
  };
}

