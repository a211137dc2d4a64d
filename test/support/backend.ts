/**
 * The database the test servers use: SQLite in their data directory, or with
 * LATCHKEY_TEST_BACKEND=postgres a fresh database per data directory on the
 * run's PostgreSQL server (vitest globalSetup). A server started again on the
 * same data directory finds the same database, and `runCli` with that
 * `--data-dir` is pointed at it.
 */
import { inject } from "vitest";
import { createDatabase } from "./postgres.js";

export const TEST_BACKEND = process.env.LATCHKEY_TEST_BACKEND === "postgres" ? "postgres" : "sqlite";

const databases = new Map<string, string>();

/** The database URL for a data directory's server; undefined on SQLite. */
export async function testDatabaseFor(dataDir: string): Promise<string | undefined> {
  if (TEST_BACKEND !== "postgres") return undefined;
  let url = databases.get(dataDir);
  if (!url) {
    url = await createDatabase(inject("postgresUrl"), "e2e");
    databases.set(dataDir, url);
  }
  return url;
}

/** The database a test server on this data directory uses, if it is PostgreSQL. */
export function testDatabaseOf(dataDir: string): string | undefined {
  return databases.get(dataDir);
}
