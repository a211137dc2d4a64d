/**
 * One append inside the PostgreSQL store's transaction: the sequence check,
 * unique values and lookups, the snapshot, then the events under the
 * instance's append lock (see postgres.ts for why the lock).
 */
import type { PoolClient } from "pg";
import { ConcurrencyError, storedEvent, UniqueConstraintError, type AggregateRef, type AggregateWrite, type StoredEvent } from "./eventstore.js";


async function currentSequence(client: PoolClient, instanceId: string, aggregate: AggregateRef): Promise<number> {
  const { rows } = await client.query<{ sequence: number }>(
    `SELECT coalesce(max(sequence), 0) AS sequence FROM events
     WHERE instance_id = $1 AND aggregate_type = $2 AND aggregate_id = $3`,
    [instanceId, aggregate.type, aggregate.id],
  );
  return rows[0]!.sequence;
}

/** `seen` holds the sequences reached by earlier writes of the same append, not inserted yet. */
async function checkSequence(client: PoolClient, instanceId: string, write: AggregateWrite, seen: Map<string, number>): Promise<void> {
  const key = eventKey(write.aggregate.type, write.aggregate.id, 0);
  const actual = seen.get(key) ?? (await currentSequence(client, instanceId, write.aggregate));
  if (actual !== write.expectedSequence) {
    throw new ConcurrencyError(write.aggregate, write.expectedSequence, actual);
  }
  seen.set(key, actual + write.events.length);
}

// Removals first, so a write that removes and re-adds the same value succeeds.
async function updateUniques(client: PoolClient, instanceId: string, write: AggregateWrite): Promise<void> {
  for (const unique of write.removeUnique ?? []) {
    await client.query("DELETE FROM unique_constraints WHERE instance_id = $1 AND kind = $2 AND value = $3", [
      instanceId,
      unique.kind,
      unique.value,
    ]);
  }
  for (const unique of write.addUnique ?? []) {
    const { rowCount } = await client.query(
      `INSERT INTO unique_constraints (instance_id, kind, value, aggregate_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [instanceId, unique.kind, unique.value, write.aggregate.id],
    );
    if (rowCount === 0) throw new UniqueConstraintError(unique);
  }
}

async function updateLookups(client: PoolClient, instanceId: string, write: AggregateWrite): Promise<void> {
  for (const lookup of write.removeLookup ?? []) {
    await client.query(
      "DELETE FROM lookups WHERE instance_id = $1 AND kind = $2 AND value = $3 AND aggregate_id = $4",
      [instanceId, lookup.kind, lookup.value, write.aggregate.id],
    );
  }
  for (const lookup of write.addLookup ?? []) {
    await client.query(
      `INSERT INTO lookups (instance_id, kind, value, aggregate_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [instanceId, lookup.kind, lookup.value, write.aggregate.id],
    );
  }
}

/**
 * Inserts the events in order under the instance's append lock. A row that
 * collides with a sequence stored since the check is skipped, not an error,
 * so the transaction stays usable to report the aggregate's actual sequence.
 */
async function insertEvents(client: PoolClient, instanceId: string, writes: readonly AggregateWrite[], createdAt: Date): Promise<StoredEvent[]> {
  const pending = writes.flatMap((write) =>
    write.events.map((event, i) => ({ write, event, sequence: write.expectedSequence + i + 1 })),
  );
  if (pending.length === 0) return [];
  const column = <T>(pick: (p: (typeof pending)[number]) => T) => pending.map(pick);
  const { rows } = await client.query<{ position: string; aggregate_type: string; aggregate_id: string; sequence: number }>(
    `INSERT INTO events (instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor)
     SELECT $1, t.aggregate_type, t.aggregate_id, t.sequence, t.event_type, t.payload, $2, t.resource_owner, t.editor
     FROM unnest($3::text[], $4::text[], $5::int[], $6::text[], $7::json[], $8::text[], $9::text[])
       WITH ORDINALITY AS t (aggregate_type, aggregate_id, sequence, event_type, payload, resource_owner, editor, n)
     ORDER BY t.n
     ON CONFLICT (instance_id, aggregate_type, aggregate_id, sequence) DO NOTHING
     RETURNING position, aggregate_type, aggregate_id, sequence`,
    [
      instanceId,
      createdAt,
      column((p) => p.write.aggregate.type),
      column((p) => p.write.aggregate.id),
      column((p) => p.sequence),
      column((p) => p.event.type),
      column((p) => JSON.stringify(p.event.payload)),
      column((p) => p.write.resourceOwner),
      column((p) => p.event.editor),
    ],
  );
  const positions = new Map(rows.map((r) => [eventKey(r.aggregate_type, r.aggregate_id, r.sequence), Number(r.position)]));
  const stored: StoredEvent[] = [];
  for (const { write, event, sequence } of pending) {
    const position = positions.get(eventKey(write.aggregate.type, write.aggregate.id, sequence));
    if (position === undefined) {
      const actual = await currentSequence(client, instanceId, write.aggregate);
      throw new ConcurrencyError(write.aggregate, write.expectedSequence, actual);
    }
    stored.push(storedEvent(write, event, sequence, position, instanceId, createdAt));
  }
  return stored;
}

async function saveSnapshot(client: PoolClient, instanceId: string, write: AggregateWrite): Promise<void> {
  const snapshot = write.snapshot;
  if (!snapshot) return;
  await client.query(
    `INSERT INTO snapshots (instance_id, aggregate_type, aggregate_id, model, sequence, state) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (instance_id, aggregate_type, aggregate_id, model)
     DO UPDATE SET sequence = excluded.sequence, state = excluded.state WHERE snapshots.sequence < excluded.sequence`,
    [instanceId, write.aggregate.type, write.aggregate.id, snapshot.model, snapshot.sequence, Buffer.from(snapshot.state)],
  );
}

/** Writes one append's rows; throws ConcurrencyError or UniqueConstraintError and leaves the rollback to the caller. */
export async function appendOne(client: PoolClient, instanceId: string, writes: readonly AggregateWrite[], createdAt: Date): Promise<StoredEvent[]> {
  const seen = new Map<string, number>();
  for (const write of writes) {
    await checkSequence(client, instanceId, write, seen);
    await updateUniques(client, instanceId, write);
    await updateLookups(client, instanceId, write);
    await saveSnapshot(client, instanceId, write);
  }
  return insertEvents(client, instanceId, writes, createdAt);
}

/** The key of an event by aggregate and sequence, to find the position a statement returned for it. */
export function eventKey(type: string, id: string, sequence: number): string {
  return JSON.stringify([type, id, sequence]);
}
