import type { Pool } from "pg";
import { withTransaction } from "./postgres_pool.js";
import { assertAscending, type Migration } from "./migration.js";

export type PostgresMigration = Migration;

/**
 * Applied in order; append new migrations with a higher version, never edit old ones.
 * Times the notifier passes in stay Unix milliseconds (BIGINT), as in SQLite;
 * times PostgreSQL sets itself are TIMESTAMPTZ.
 */
export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: "events, unique constraints and lookups",
    // payload is JSON, not JSONB: the text is kept as written, and JSONB
    // would refuse a string holding U+0000.
    sql: `
      CREATE TABLE events (
        position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        instance_id TEXT NOT NULL,
        aggregate_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        payload JSON NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        resource_owner TEXT NOT NULL,
        editor TEXT NOT NULL,
        UNIQUE (instance_id, aggregate_type, aggregate_id, sequence)
      );
      CREATE INDEX events_instance_position ON events (instance_id, position);
      CREATE TABLE unique_constraints (
        instance_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        PRIMARY KEY (instance_id, kind, value)
      );
      CREATE TABLE lookups (
        instance_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        PRIMARY KEY (instance_id, kind, value, aggregate_id)
      );
    `,
  },
  {
    version: 2,
    name: "notifier checkpoint and pending deliveries with claims",
    sql: `
      CREATE TABLE notification_checkpoints (
        instance_id TEXT PRIMARY KEY,
        position BIGINT NOT NULL
      );
      CREATE TABLE notification_jobs (
        instance_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        aggregate_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        claimed_by TEXT,
        claimed_until TIMESTAMPTZ,
        PRIMARY KEY (instance_id, position)
      );
      CREATE INDEX notification_jobs_due ON notification_jobs (instance_id, next_attempt_at);
    `,
  },
  {
    version: 3,
    name: "rate limit counters",
    // the table rate-limiter-flexible's RateLimiterPostgres reads and writes
    sql: `
      CREATE TABLE rate_limits (
        key VARCHAR(255) PRIMARY KEY,
        points INTEGER NOT NULL DEFAULT 0,
        expire BIGINT
      );
      CREATE INDEX rate_limits_expire ON rate_limits (expire);
    `,
  },
  {
    version: 4,
    name: "snapshots of folded aggregate state",
    sql: `
      CREATE TABLE snapshots (
        instance_id TEXT NOT NULL,
        aggregate_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        model TEXT NOT NULL,
        sequence BIGINT NOT NULL,
        state BYTEA NOT NULL,
        PRIMARY KEY (instance_id, aggregate_type, aggregate_id, model)
      );
    `,
  },
];

const CREATE_MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`;

/** Advisory lock key (int4, int4) held while migrating: "lk" and 1. */
const MIGRATION_LOCK = [0x6c6b, 1] as const;

/**
 * Applies every migration not yet recorded, all in one transaction under an
 * advisory lock, so instances starting at once apply each migration once (the
 * others wait, then find nothing to do). Returns the versions this call applied.
 */
export async function migratePostgres(
  pool: Pool,
  migrations: readonly PostgresMigration[] = postgresMigrations,
): Promise<number[]> {
  assertAscending("postgres", migrations);
  return withTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", [...MIGRATION_LOCK]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const { rows } = await client.query<{ version: number }>("SELECT version FROM schema_migrations");
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations.filter((m) => !done.has(m.version))) {
      await client.query(m.sql);
      await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}

/** The highest version `migratePostgres` applies. */
export const latestPostgresVersion = postgresMigrations.at(-1)?.version ?? 0;
