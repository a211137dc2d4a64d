import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.unit.test.ts"],
        },
      },
      {
        // in process: the stores, the notifier and the services on real databases, no sockets of our own
        test: {
          name: "int",
          include: ["test/**/*.int.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: "forks",
          globalSetup: ["test/support/postgres_setup.ts"],
        },
      },
      {
        // whole servers on a free port, called by real clients (and a browser) over real sockets
        test: {
          name: "e2e",
          include: ["test/**/*.e2e.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: "forks",
          globalSetup: ["test/support/postgres_setup.ts"],
        },
      },
      {
        test: {
          name: "e2e-postgres",
          include: ["test/**/*.e2e.test.ts"],
          // about the data directory's SQLite file and the binary on it, or PostgreSQL's own tests (run once, in e2e)
          exclude: [
            "test/cli.e2e.test.ts",
            "test/notification_restart.e2e.test.ts",
            "test/postgres_*.e2e.test.ts",
            "test/crash_safety.e2e.test.ts",
            "test/no_secrets.e2e.test.ts",
            "test/workers.e2e.test.ts",
          ],
          env: { LATCHKEY_TEST_BACKEND: "postgres" },
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: "forks",
          globalSetup: ["test/support/postgres_setup.ts"],
        },
      },
    ],
  },
});
