/**
 * Vitest global setup of the int project: one PostgreSQL server for the whole
 * run. Test files take its URL with `inject("postgresUrl")` and make their own
 * database with `createDatabase`.
 */
import type { TestProject } from "vitest/node";
import { startPostgres } from "./postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres();
  project.provide("postgresUrl", server.url);
  return () => server.stop();
}
