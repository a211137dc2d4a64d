/** The connection pool, transactions and error mapping shared by the PostgreSQL modules. */
import { Pool, type PoolClient, type PoolConfig, type QueryConfig } from "pg";
import { unavailable, type LatchkeyError } from "../errors/errors.js";

/** `options`: server settings for the pool's sessions, e.g. "-c synchronous_commit=off" */
export type PoolOptions = Pick<PoolConfig, "max" | "connectionTimeoutMillis" | "idleTimeoutMillis" | "application_name" | "options">;

export function createPool(url: string, options: PoolOptions = {}): Pool {
  const pool = new Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    application_name: "latchkey",
    ...options,
  });
  // The pool drops an idle connection the server closed; without a listener
  // that error would crash the process.
  pool.on("error", () => {});
  return pool;
}

/**
 * A statement PostgreSQL parses and plans once per connection (a named
 * prepared statement) instead of on every call: for the ones calls run each
 * time. The text must not change under the same name.
 */
export function prepared(name: string, text: string): (values: unknown[]) => QueryConfig {
  return (values) => ({ name: `latchkey_${name}`, text, values });
}

/**
 * Runs `fn` in a transaction on one connection: COMMIT when it resolves,
 * ROLLBACK when it throws. A connection that broke is discarded, not reused.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, options: { begin?: (client: PoolClient) => string } = {}): Promise<T> {
  return mapConnectionErrors(async () => {
    const client = await pool.connect();
    // Between two queries nothing listens for the connection's errors.
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    client.on("error", onError);
    try {
      await client.query(options.begin?.(client) ?? "BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      if (!isConnectionLoss(err)) {
        await client.query("ROLLBACK").catch((rollbackErr: Error) => (broken = rollbackErr));
      } else {
        broken = err as Error;
      }
      throw err;
    } finally {
      client.removeListener("error", onError);
      client.release(broken ?? false);
    }
  });
}

/** Turns a lost or refused connection into an Unavailable error; others pass through. */
export async function mapConnectionErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isConnectionLoss(err) ? databaseUnavailable(err) : err;
  }
}

export function databaseUnavailable(cause: unknown): LatchkeyError {
  const error = unavailable("STORE-pG7vq", "Errors.Database.Unavailable", "The database is unavailable, try again later");
  error.cause = cause;
  return error;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
// admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
const SERVER_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);
const DRIVER_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection ended/i;

export function isConnectionLoss(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    // SQLSTATE class 08: connection exception
    if (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  return DRIVER_MESSAGES.test(err.message);
}
