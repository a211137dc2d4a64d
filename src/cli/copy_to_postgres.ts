/**
 * `latchkey copy`: moves a SQLite instance into an empty PostgreSQL database in
 * one transaction. Events keep their positions and sequences; unique values,
 * lookups and pending messages come along. The notifier's checkpoint is set to
 * the copied head, with jobs added for the events the SQLite notifier had not
 * read yet. Rate limit counters are not copied: they start empty.
 */
import { needsMessage } from "../notification/decide.js";
import type { NewJob } from "../notification/state.js";
import { openPostgresEventStore } from "../eventstore/postgres.js";
import { withTransaction } from "../eventstore/postgres_pool.js";
import { openSqliteEventStore } from "../eventstore/sqlite.js";
import type { SqliteEventRow } from "../eventstore/rows.js";
import type { SqliteJobRow } from "../notification/jobs.js";

export interface CopySummary {
  events: number;
  head: number;
  uniques: number;
  lookups: number;
  jobs: number;
}

export class CopyError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "CLI-Cpy7p";
}

const CHUNK = 1000;

/** Copies the SQLite file `from` (stop the instance using it first) into the PostgreSQL database `to`. */
export async function copySqliteToPostgres(from: string, to: string, now = Date.now()): Promise<CopySummary> {
  const source = openSqliteEventStore({ file: from });
  const target = await openPostgresEventStore({ url: to }).catch(async (err: unknown) => {
    await source.close();
    throw err;
  });
  try {
    const { db } = source;
    const rows = <R>(sql: string) => db.prepare<[], R>(sql).all();
    const events = rows<SqliteEventRow>("SELECT * FROM events ORDER BY position");
    const uniques = rows<{ instance_id: string; kind: string; value: string; aggregate_id: string }>("SELECT * FROM unique_constraints");
    const lookups = rows<{ instance_id: string; kind: string; value: string; aggregate_id: string }>("SELECT * FROM lookups");
    const jobs = rows<SqliteJobRow>("SELECT * FROM notification_jobs");
    const checkpoints = new Map(rows<{ instance_id: string; position: number }>("SELECT * FROM notification_checkpoints").map((c) => [c.instance_id, c.position]));

    // what the SQLite notifier would have found in the events it had not read yet
    const unread: Array<NewJob & { instanceId: string }> = [];
    for (const instanceId of new Set(events.map((e) => e.instance_id))) {
      const store = openSqliteEventStore({ file: from, instanceId });
      try {
        for (let after = checkpoints.get(instanceId) ?? 0; ; ) {
          const batch = await store.readAfter(after, CHUNK);
          if (batch.length === 0) break;
          for (const e of batch.filter(needsMessage)) {
            unread.push({ instanceId, position: e.position, aggregateType: e.aggregateType, aggregateId: e.aggregateId, sequence: e.sequence, createdAt: e.createdAt.getTime() });
          }
          after = batch.at(-1)!.position;
        }
      } finally {
        await store.close();
      }
    }

    await withTransaction(target.pool, async (client) => {
      const { rowCount } = await client.query("SELECT 1 FROM events LIMIT 1");
      if (rowCount !== 0) throw new CopyError("the target database already holds events; copy needs an empty database");
      for (let i = 0; i < events.length; i += CHUNK) {
        const chunk = events.slice(i, i + CHUNK);
        const col = <T>(pick: (e: SqliteEventRow) => T) => chunk.map(pick);
        await client.query(
          `INSERT INTO events (position, instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor)
           OVERRIDING SYSTEM VALUE
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::json[], $8::timestamptz[], $9::text[], $10::text[])`,
          [
            col((e) => e.position), col((e) => e.instance_id), col((e) => e.aggregate_type), col((e) => e.aggregate_id),
            col((e) => e.sequence), col((e) => e.event_type), col((e) => e.payload), col((e) => new Date(e.created_at)),
            col((e) => e.resource_owner), col((e) => e.editor),
          ],
        );
      }
      // the next append continues after the copied positions
      await client.query("SELECT setval(pg_get_serial_sequence('events', 'position'), (SELECT coalesce(max(position), 0) + 1 FROM events), false)");
      for (const [table, list] of [["unique_constraints", uniques], ["lookups", lookups]] as const) {
        for (let i = 0; i < list.length; i += CHUNK) {
          const chunk = list.slice(i, i + CHUNK);
          await client.query(
            `INSERT INTO ${table} (instance_id, kind, value, aggregate_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
            [chunk.map((r) => r.instance_id), chunk.map((r) => r.kind), chunk.map((r) => r.value), chunk.map((r) => r.aggregate_id)],
          );
        }
      }
      const allJobs = [
        ...jobs.map((j) => [j.instance_id, j.position, j.aggregate_type, j.aggregate_id, j.sequence, j.attempts, j.next_attempt_at, j.created_at] as const),
        ...unread.map((j) => [j.instanceId, j.position, j.aggregateType, j.aggregateId, j.sequence, 0, now, j.createdAt] as const),
      ];
      for (const job of allJobs) {
        await client.query(
          `INSERT INTO notification_jobs (instance_id, position, aggregate_type, aggregate_id, sequence, attempts, next_attempt_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
          [...job],
        );
      }
      await client.query(
        `INSERT INTO notification_checkpoints (instance_id, position)
         SELECT instance_id, max(position) FROM events GROUP BY instance_id
         ON CONFLICT (instance_id) DO UPDATE SET position = excluded.position`,
      );
    });
    return { events: events.length, head: events.at(-1)?.position ?? 0, uniques: uniques.length, lookups: lookups.length, jobs: jobs.length + unread.length };
  } finally {
    await source.close();
    await target.close();
  }
}
