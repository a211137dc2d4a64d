/** A message the notifier owes: the event that asks for it, and its `notification_jobs` row as the drivers return it (pg gives bigint columns as text). */

export interface NewJob {
  position: number;
  aggregateType: string;
  aggregateId: string;
  sequence: number;
  /** when the trigger event happened (Unix ms) */
  createdAt: number;
}

export interface Job extends NewJob {
  attempts: number;
  nextAttemptAt: number;
}

export interface JobRow {
  position: number | string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  attempts: number;
  next_attempt_at: number | string;
  created_at: number | string;
}

/** A row of the SQLite file, with the instance it belongs to. */
export interface SqliteJobRow extends JobRow {
  instance_id: string;
  position: number;
  next_attempt_at: number;
  created_at: number;
}

export function toJob(row: JobRow): Job {
  return {
    position: Number(row.position),
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    sequence: row.sequence,
    attempts: row.attempts,
    nextAttemptAt: Number(row.next_attempt_at),
    createdAt: Number(row.created_at),
  };
}
