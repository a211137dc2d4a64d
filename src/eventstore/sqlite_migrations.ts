import type Database from "better-sqlite3";
import { assertAscending, type Migration } from "./migration.js";

export type SqliteMigration = Migration;

/** Applied in order; append new migrations with a higher version, never edit old ones. */
export const sqliteMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: "events and unique constraints",
    sql: `
      CREATE TABLE events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        instance_id TEXT NOT NULL,
        aggregate_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        resource_owner TEXT NOT NULL,
        editor TEXT NOT NULL,
        UNIQUE (instance_id, aggregate_type, aggregate_id, sequence)
      );
      CREATE TABLE unique_constraints (
        instance_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        PRIMARY KEY (instance_id, kind, value)
      );
    `,
  },
  {
    version: 2,
    name: "notifier checkpoint and pending deliveries",
    sql: `
      CREATE TABLE notification_checkpoints (
        instance_id TEXT PRIMARY KEY,
        position INTEGER NOT NULL
      );
      CREATE TABLE notification_jobs (
        instance_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        aggregate_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (instance_id, position)
      );
      CREATE INDEX notification_jobs_due ON notification_jobs (instance_id, next_attempt_at);
    `,
  },
  {
    version: 3,
    name: "lookups, with the email addresses of existing users",
    // The value must equal emailLookup() in src/command/user/commands.ts:
    // "<org id>:<address>" with ASCII letters lowercased, as SQLite's lower() does.
    sql: `
      CREATE TABLE lookups (
        instance_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        PRIMARY KEY (instance_id, kind, value, aggregate_id)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO lookups (instance_id, kind, value, aggregate_id)
        SELECT e.instance_id, 'email', e.resource_owner || ':' || lower(json_extract(e.payload, '$.email.address')), e.aggregate_id
        FROM events e
        WHERE e.aggregate_type = 'user' AND e.event_type = 'user.human.added'
          AND json_extract(e.payload, '$.email.address') IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM events r
            WHERE r.instance_id = e.instance_id AND r.aggregate_type = 'user'
              AND r.aggregate_id = e.aggregate_id AND r.event_type = 'user.removed'
          );
    `,
  },
  {
    version: 4,
    name: "rate limit counters",
    // the table rate-limiter-flexible's RateLimiterSQLite reads and writes
    sql: `
      CREATE TABLE rate_limits (
        key TEXT PRIMARY KEY,
        points INTEGER NOT NULL DEFAULT 0,
        expire INTEGER
      );
      CREATE INDEX rate_limits_expire ON rate_limits (expire);
    `,
  },
  {
    version: 5,
    name: "snapshots of folded aggregate state",
    sql: `
      CREATE TABLE snapshots (
        instance_id TEXT NOT NULL,
        aggregate_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        model TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (instance_id, aggregate_type, aggregate_id, model)
      ) WITHOUT ROWID;
    `,
  },
];

const CREATE_MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`;

/**
 * Applies every migration not yet recorded, each in its own IMMEDIATE
 * transaction. Safe when several processes open the same file at once.
 * Returns the versions this call applied.
 */
export function migrateSqlite(
  db: Database.Database,
  migrations: readonly SqliteMigration[] = sqliteMigrations,
): number[] {
  assertAscending("sqlite", migrations);
  db.exec(CREATE_MIGRATIONS_TABLE);
  const isApplied = db
    .prepare<[number], number>("SELECT 1 FROM schema_migrations WHERE version = ?")
    .pluck();
  const record = db.prepare<[number, string, number]>(
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
  );
  const applyOnce = db.transaction((m: SqliteMigration): boolean => {
    // Another process may have applied it since we looked; now we hold the write lock.
    if (isApplied.get(m.version) !== undefined) return false;
    db.exec(m.sql);
    record.run(m.version, m.name, Date.now());
    return true;
  });
  const applied: number[] = [];
  for (const m of migrations) {
    if (isApplied.get(m.version) === undefined && applyOnce.immediate(m)) applied.push(m.version);
  }
  return applied;
}
