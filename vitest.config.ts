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
        test: {
          name: "int",
          include: ["test/**/*.int.test.ts", "test/**/*.e2e.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: "forks",
          globalSetup: ["test/support/postgres_setup.ts"],
        },
      },
    ],
  },
});
