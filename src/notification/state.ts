/**
 * The notifier's progress: how far it has read the stream, and the messages
 * still to deliver with their retry times. Kept in the event store's database;
 * here for SQLite, in postgres_state.ts for PostgreSQL.
 */
import type Database from "better-sqlite3";
import { toJob, type Job, type NewJob, type SqliteJobRow } from "./jobs.js";

export type { Job, NewJob };

/**
 * The notifier's progress. Every call is async so that one interface serves
 * SQLite (one process) and PostgreSQL (several processes sharing the jobs).
 */
export interface NotificationState {
  checkpoint(): Promise<number>;
  /**
   * Records the jobs found in a batch of events and moves the checkpoint past
   * it, atomically. On a shared database, jobs at or below a checkpoint another
   * process already moved are left out, so a process that lags behind does not
   * bring back delivered jobs.
   */
  advance(jobs: readonly NewJob[], position: number, now: number): Promise<void>;
  /**
   * Claims up to `limit` jobs whose next attempt is due and that nobody holds,
   * earliest first. They stay the caller's until `reschedule`, `remove`, or
   * (on a shared database) the lease running out.
   */
  claimDue(now: number, limit: number): Promise<Job[]>;
  /** Sets the next attempt and releases the claim. */
  reschedule(position: number, attempts: number, nextAttemptAt: number): Promise<void>;
  remove(position: number): Promise<void>;
  stats(): Promise<{ head: number; pending: number; oldestPendingAt?: number }>;
}

export function sqliteNotificationState(db: Database.Database, instanceId = "default"): NotificationState {
  const stmt = {
    checkpoint: db.prepare<[string], number>("SELECT position FROM notification_checkpoints WHERE instance_id = ?").pluck(),
    setCheckpoint: db.prepare<[string, number]>(
      `INSERT INTO notification_checkpoints (instance_id, position) VALUES (?, ?)
       ON CONFLICT (instance_id) DO UPDATE SET position = max(position, excluded.position)`,
    ),
    insertJob: db.prepare<[string, number, string, string, number, number, number]>(
      `INSERT OR IGNORE INTO notification_jobs
         (instance_id, position, aggregate_type, aggregate_id, sequence, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    due: db.prepare<[string, number, number], SqliteJobRow>(
      `SELECT position, aggregate_type, aggregate_id, sequence, attempts, next_attempt_at, created_at
       FROM notification_jobs WHERE instance_id = ? AND next_attempt_at <= ?
       ORDER BY next_attempt_at, position LIMIT ?`,
    ),
    reschedule: db.prepare<[number, number, string, number]>(
      "UPDATE notification_jobs SET attempts = ?, next_attempt_at = ? WHERE instance_id = ? AND position = ?",
    ),
    remove: db.prepare<[string, number]>("DELETE FROM notification_jobs WHERE instance_id = ? AND position = ?"),
    head: db.prepare<[string], number>("SELECT position FROM events WHERE +instance_id = ? ORDER BY position DESC LIMIT 1").pluck(),
    pending: db.prepare<[string], { pending: number; oldest: number | null }>(
      "SELECT count(*) AS pending, min(created_at) AS oldest FROM notification_jobs WHERE instance_id = ?",
    ),
  };

  const advance = db.transaction((jobs: readonly NewJob[], position: number, now: number) => {
    for (const j of jobs) stmt.insertJob.run(instanceId, j.position, j.aggregateType, j.aggregateId, j.sequence, now, j.createdAt);
    stmt.setCheckpoint.run(instanceId, position);
  });

  // One process owns the file's jobs: a claim is a mark in memory, gone with the process.
  const claimed = new Set<number>();

  return {
    checkpoint: async () => stmt.checkpoint.get(instanceId) ?? 0,
    advance: async (jobs, position, now) => advance.immediate(jobs, position, now),
    async claimDue(now, limit) {
      const jobs = stmt.due
        .all(instanceId, now, limit + claimed.size)
        .filter((r) => !claimed.has(r.position))
        .slice(0, limit)
        .map(toJob);
      for (const job of jobs) claimed.add(job.position);
      return jobs;
    },
    async reschedule(position, attempts, nextAttemptAt) {
      claimed.delete(position);
      stmt.reschedule.run(attempts, nextAttemptAt, instanceId, position);
    },
    async remove(position) {
      claimed.delete(position);
      stmt.remove.run(instanceId, position);
    },
    async stats() {
      const { pending, oldest } = stmt.pending.get(instanceId)!;
      return { head: stmt.head.get(instanceId) ?? 0, pending, ...(oldest !== null && { oldestPendingAt: oldest }) };
    },
  };
}
