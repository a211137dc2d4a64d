/** The composition root: opens the data directory and wires the commands. */
import path from "node:path";
import { AggregateLocks } from "../command/aggregate_lock.js";
import { authenticate, setupInstance } from "../command/instance.js";
import type { Principal } from "../command/permissions.js";
import { createUserCommands, type UserCommands } from "../command/user/commands.js";
import type { Config } from "../config.js";
import { CodeCipher } from "../crypto/code_cipher.js";
import { argon2idHasher } from "../crypto/passwords.js";
import type { EventStore } from "../eventstore/eventstore.js";
import { openSqliteEventStore, type SqliteEventStore } from "../eventstore/sqlite.js";
import type { Logger } from "../logger.js";
import { startNotification } from "../notification/start.js";
import { createRateLimits, type RateLimits } from "../ratelimit/limits.js";
import { sqliteRateLimitStore } from "../ratelimit/store.js";
import { ADMIN_TOKEN_FILE, DATABASE_FILE, ensureDataDir, loadOrCreateEncryptionKey, writeSecretFile } from "./data_dir.js";

export interface App {
  store: EventStore;
  users: UserCommands;
  authenticate(token: string): Promise<Principal | undefined>;
  limits: RateLimits;
  /** work that outlives its request; close() waits for it */
  runInBackground(work: () => Promise<unknown>): void;
  adminTokenFile: string;
  close(): Promise<void>;
}

export interface AppOptions {
  clock?: () => Date;
}

/** Opens the event store of a data directory; shared by the server and the operator commands. */
export function openStore(dataDir: string, clock?: () => Date): SqliteEventStore {
  ensureDataDir(dataDir);
  return openSqliteEventStore({ file: path.join(dataDir, DATABASE_FILE), ...(clock && { now: clock }) });
}

export async function openApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? (() => new Date());
  const store = openStore(config.dataDir, clock);
  const cipher = new CodeCipher([loadOrCreateEncryptionKey(config.dataDir)]);
  const adminTokenFile = path.join(config.dataDir, ADMIN_TOKEN_FILE);

  const created = await setupInstance(store);
  if (created) {
    writeSecretFile(adminTokenFile, created.adminToken + "\n");
    logger.info({ orgId: created.orgId, adminUserId: created.adminUserId, adminTokenFile }, "instance created");
  }

  const locks = new AggregateLocks();
  const users = createUserCommands({
    store,
    locks,
    clock,
    cipher,
    hasher: argon2idHasher({
      memoryCost: config.argon2.memoryKiB,
      timeCost: config.argon2.iterations,
      parallelism: config.argon2.parallelism,
    }),
    codes: { length: config.codeLength, ttlMs: config.codeTtlSeconds * 1000, maxAttempts: config.maxCodeAttempts },
  });
  const notifier = startNotification(config, { store, locks, cipher, clock, logger });
  const limitStore = sqliteRateLimitStore(store.db);
  const background = new Set<Promise<unknown>>();

  return {
    store,
    users,
    authenticate: (token) => authenticate(store, token),
    limits: createRateLimits(limitStore, config.rateLimits),
    runInBackground(work) {
      const running = work()
        .catch((err: unknown) => logger.error({ err }, "background work failed"))
        .finally(() => background.delete(running));
      background.add(running);
    },
    adminTokenFile,
    async close() {
      await Promise.allSettled(background);
      limitStore.close();
      await notifier.close();
      await store.close();
    },
  };
}
