/**
 * The appends of a group that write one aggregate's events (and maybe its
 * snapshot) and nothing else, PasswordReset's among them, in one statement:
 * each append's sequence check, its events and its snapshot for all of them
 * at once, instead of three or four round trips per append. An append whose
 * check fails writes nothing and learns the aggregate's actual sequence from
 * the same statement. Appends with unique values or lookups, or with several
 * aggregates, take the general path (postgres_append.ts).
 */
import type { PoolClient } from "pg";
import { ConcurrencyError, storedEvent, type AggregateWrite, type StoredEvent } from "./eventstore.js";
import type { Outcome } from "./group_commit.js";
import { eventKey } from "./postgres_append.js";
import { prepared } from "./postgres_pool.js";

export interface BatchItem {
  readonly writes: readonly AggregateWrite[];
  readonly createdAt: Date;
}

/**
 * The indexes of the items `appendBatch` can take together: one aggregate,
 * events and maybe a snapshot, nothing else; each aggregate once, since the
 * statement checks every sequence before it inserts.
 */
export function batchable(items: readonly BatchItem[]): number[] {
  const aggregates = new Set<string>();
  return items.flatMap(({ writes }, i) => {
    const write = writes[0]!;
    if (writes.length !== 1 || write.addUnique?.length || write.removeUnique?.length || write.addLookup?.length || write.removeLookup?.length) return [];
    const key = `${write.aggregate.type}\n${write.aggregate.id}`;
    if (aggregates.has(key)) return [];
    aggregates.add(key);
    return [i];
  });
}

/**
 * Thrown when a row of an append whose check passed was not inserted, which
 * the instance's append lock rules out: the caller rolls the transaction
 * back and takes the general path.
 */
export class BatchAnomaly extends Error {}

const APPEND_BATCH = prepared(
  "append_batch",
  `
  WITH input AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS t (aggregate_type, aggregate_id, expected, item)
  ),
  checked AS (
    SELECT i.item, i.expected,
      coalesce((SELECT max(e.sequence) FROM events e
                WHERE e.instance_id = $1 AND e.aggregate_type = i.aggregate_type AND e.aggregate_id = i.aggregate_id), 0) AS actual
    FROM input i
  ),
  passed AS (SELECT item FROM checked WHERE actual = expected),
  inserted AS (
    INSERT INTO events (instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor)
    SELECT $1, i.aggregate_type, i.aggregate_id, r.sequence, r.event_type, r.payload, r.created_at, r.resource_owner, r.editor
    FROM unnest($5::int[], $6::int[], $7::text[], $8::json[], $9::timestamptz[], $10::text[], $11::text[])
      WITH ORDINALITY AS r (item, sequence, event_type, payload, created_at, resource_owner, editor, n)
    JOIN input i ON i.item = r.item
    WHERE r.item IN (SELECT item FROM passed)
    ORDER BY r.n
    ON CONFLICT (instance_id, aggregate_type, aggregate_id, sequence) DO NOTHING
    RETURNING position, aggregate_type, aggregate_id, sequence
  ),
  snapshotted AS (
    INSERT INTO snapshots (instance_id, aggregate_type, aggregate_id, model, sequence, state)
    SELECT $1, i.aggregate_type, i.aggregate_id, s.model, s.sequence, s.state
    FROM unnest($12::int[], $13::text[], $14::bigint[], $15::bytea[]) AS s (item, model, sequence, state)
    JOIN input i ON i.item = s.item
    WHERE s.item IN (SELECT item FROM passed)
    ON CONFLICT (instance_id, aggregate_type, aggregate_id, model)
    DO UPDATE SET sequence = excluded.sequence, state = excluded.state WHERE snapshots.sequence < excluded.sequence
  )
  SELECT 'checked' AS kind, item, actual, NULL::bigint AS position, NULL AS aggregate_type, NULL AS aggregate_id, NULL::int AS sequence FROM checked
  UNION ALL
  SELECT 'inserted', NULL, NULL, position, aggregate_type, aggregate_id, sequence FROM inserted`,
);

interface BatchRow {
  kind: "checked" | "inserted";
  item: string | null;
  actual: number | null;
  position: string | null;
  aggregate_type: string | null;
  aggregate_id: string | null;
  sequence: number | null;
}

/**
 * Appends batchable items, each to a different aggregate, in one statement.
 * Must run inside the transaction that holds the instance's append lock.
 */
export async function appendBatch(client: PoolClient, instanceId: string, items: readonly BatchItem[]): Promise<Outcome<StoredEvent[]>[]> {
  const writes = items.map((item) => item.writes[0]!);
  const events = items.flatMap((item, i) => item.writes[0]!.events.map((event, k) => ({ item: i + 1, write: item.writes[0]!, event, k, createdAt: item.createdAt })));
  const snapshots = writes.flatMap((write, i) => (write.snapshot ? [{ item: i + 1, snapshot: write.snapshot }] : []));
  const { rows } = await client.query<BatchRow>(
    APPEND_BATCH([
      instanceId,
      writes.map((w) => w.aggregate.type),
      writes.map((w) => w.aggregate.id),
      writes.map((w) => w.expectedSequence),
      events.map((e) => e.item),
      events.map((e) => e.write.expectedSequence + e.k + 1),
      events.map((e) => e.event.type),
      events.map((e) => JSON.stringify(e.event.payload)),
      events.map((e) => e.createdAt),
      events.map((e) => e.write.resourceOwner),
      events.map((e) => e.event.editor),
      snapshots.map((s) => s.item),
      snapshots.map((s) => s.snapshot.model),
      snapshots.map((s) => s.snapshot.sequence),
      snapshots.map((s) => Buffer.from(s.snapshot.state)),
    ]),
  );

  const actual = new Map<number, number>();
  const positions = new Map<string, number>();
  for (const row of rows) {
    if (row.kind === "checked") actual.set(Number(row.item), Number(row.actual));
    else positions.set(eventKey(row.aggregate_type!, row.aggregate_id!, row.sequence!), Number(row.position));
  }
  return items.map((item, i): Outcome<StoredEvent[]> => {
    const write = writes[i]!;
    const current = actual.get(i + 1)!;
    if (current !== write.expectedSequence) return { error: new ConcurrencyError(write.aggregate, write.expectedSequence, current) };
    return {
      ok: write.events.map((event, k): StoredEvent => {
        const sequence = write.expectedSequence + k + 1;
        const position = positions.get(eventKey(write.aggregate.type, write.aggregate.id, sequence));
        if (position === undefined) throw new BatchAnomaly(`event ${sequence} of ${write.aggregate.type} ${write.aggregate.id} was not inserted`);
        return storedEvent(write, event, sequence, position, instanceId, item.createdAt);
      }),
    };
  });
}
