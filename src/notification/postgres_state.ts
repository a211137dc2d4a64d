/**
 * The notifier's progress on PostgreSQL, shared by every latchkey instance on
 * the database: one checkpoint per latchkey instance id, and the messages
 * still to deliver.
 *
 * Each due job is claimed by one process at a time: claiming sets `claimed_by`
 * and a lease (`claimed_until`, on the database's clock, so the processes'
 * clocks do not matter). Another process takes a job over only once its lease
 * has run out, which is how the jobs of a crashed process get delivered. A
 * process whose lease ran out while it was still delivering may send the
 * message a second time; the lease must be longer than a delivery can take,
 * and the stable Message-ID lets a receiver drop the copy.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import type { Pool } from "pg";
import { mapConnectionErrors, withTransaction } from "../eventstore/postgres_pool.js";
import type { NotificationState } from "./state.js";
import { toJob, type JobRow } from "./jobs.js";

/** The NotificationState on PostgreSQL, where claims hold across processes. */
export type SharedNotificationState = NotificationState;

export interface PostgresNotificationStateOptions {
  instanceId?: string;
  /** names this process in its claims (default host:pid:random) */
  owner?: string;
  /** how long a claim holds before another process may take the job over (default 2 minutes) */
  leaseMs?: number;
}

export function postgresNotificationState(pool: Pool, options: PostgresNotificationStateOptions = {}): SharedNotificationState {
  const instanceId = options.instanceId ?? "default";
  const owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const leaseMs = options.leaseMs ?? 120_000;
  const query = <R extends object>(text: string, values: unknown[]) =>
    mapConnectionErrors(() => pool.query<R>(text, values));

  return {
    async checkpoint() {
      const { rows } = await query<{ position: string }>(
        "SELECT position FROM notification_checkpoints WHERE instance_id = $1",
        [instanceId],
      );
      return Number(rows[0]?.position ?? 0);
    },

    advance(jobs, position, now) {
      return withTransaction(pool, async (client) => {
        await client.query(
          "INSERT INTO notification_checkpoints (instance_id, position) VALUES ($1, 0) ON CONFLICT DO NOTHING",
          [instanceId],
        );
        const { rows } = await client.query<{ position: string }>(
          "SELECT position FROM notification_checkpoints WHERE instance_id = $1 FOR UPDATE",
          [instanceId],
        );
        const checkpoint = Number(rows[0]!.position);
        const fresh = jobs.filter((j) => j.position > checkpoint);
        if (fresh.length > 0) {
          await client.query(
            `INSERT INTO notification_jobs (instance_id, position, aggregate_type, aggregate_id, sequence, next_attempt_at, created_at)
             SELECT $1, t.position, t.aggregate_type, t.aggregate_id, t.sequence, $2, t.created_at
             FROM unnest($3::bigint[], $4::text[], $5::text[], $6::int[], $7::bigint[])
               AS t (position, aggregate_type, aggregate_id, sequence, created_at)
             ON CONFLICT DO NOTHING`,
            [
              instanceId,
              now,
              fresh.map((j) => j.position),
              fresh.map((j) => j.aggregateType),
              fresh.map((j) => j.aggregateId),
              fresh.map((j) => j.sequence),
              fresh.map((j) => j.createdAt),
            ],
          );
        }
        if (position > checkpoint) {
          await client.query("UPDATE notification_checkpoints SET position = $2 WHERE instance_id = $1", [instanceId, position]);
        }
      });
    },

    async claimDue(now, limit) {
      // SKIP LOCKED: two processes claiming at once take different jobs instead of waiting.
      const { rows } = await query<JobRow>(
        `UPDATE notification_jobs AS j
         SET claimed_by = $3, claimed_until = clock_timestamp() + $4::float8 * interval '1 millisecond'
         FROM (
           SELECT position FROM notification_jobs
           WHERE instance_id = $1 AND next_attempt_at <= $2
             AND (claimed_until IS NULL OR claimed_until <= clock_timestamp())
           ORDER BY next_attempt_at, position
           LIMIT $5
           FOR UPDATE SKIP LOCKED
         ) AS due
         WHERE j.instance_id = $1 AND j.position = due.position
         RETURNING j.position, j.aggregate_type, j.aggregate_id, j.sequence, j.attempts, j.next_attempt_at, j.created_at`,
        [instanceId, now, owner, leaseMs, limit],
      );
      return rows.map(toJob).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.position - b.position);
    },

    async reschedule(position, attempts, nextAttemptAt) {
      await query(
        `UPDATE notification_jobs SET attempts = $3, next_attempt_at = $4, claimed_by = NULL, claimed_until = NULL
         WHERE instance_id = $1 AND position = $2 AND (claimed_by IS NULL OR claimed_by = $5)`,
        [instanceId, position, attempts, nextAttemptAt, owner],
      );
    },

    async remove(position) {
      await query("DELETE FROM notification_jobs WHERE instance_id = $1 AND position = $2", [instanceId, position]);
    },

    async stats() {
      const { rows } = await query<{ head: string; pending: string; oldest: string | null }>(
        `SELECT (SELECT coalesce(max(position), 0) FROM events WHERE instance_id = $1) AS head,
                count(*) AS pending, min(created_at) AS oldest
         FROM notification_jobs WHERE instance_id = $1`,
        [instanceId],
      );
      const { head, pending, oldest } = rows[0]!;
      return { head: Number(head), pending: Number(pending), ...(oldest !== null && { oldestPendingAt: Number(oldest) }) };
    },
  };
}

