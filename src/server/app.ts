/** The composition root: opens the data directory and the database, and wires the commands. */
import fs from "node:fs";
import path from "node:path";
import { AggregateLocks } from "../command/aggregate_lock.js";
import { authenticate, setupInstance } from "../command/instance.js";
import type { Principal } from "../command/permissions.js";
import { createUserCommands, type UserCommands } from "../command/user/commands.js";
import type { Config } from "../config.js";
import { CodeCipher } from "../crypto/code_cipher.js";
import { argon2idHasher } from "../crypto/passwords.js";
import type { EventStore } from "../eventstore/eventstore.js";
import type { Logger } from "../logger.js";
import { startNotification } from "../notification/start.js";
import { createRateLimits, type RateLimits } from "../ratelimit/limits.js";
import { describeBackend, openBackend, type BackendKind, type BackendOptions } from "./backend.js";
import { ADMIN_TOKEN_FILE, writeSecretFile } from "./data_dir.js";
import { checkEncryptionKeys, loadEncryptionKeys } from "./encryption_keys.js";

export interface App {
  store: EventStore;
  /** where the state lives: "sqlite" or "postgresql" */
  database: BackendKind;
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

/** Opens the event store of the configured database; shared by the server and the operator commands. */
export async function openStore(options: BackendOptions): Promise<EventStore> {
  return (await openBackend(options)).store;
}

export async function openApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? (() => new Date());
  const keys = loadEncryptionKeys(config);
  const backend = await openBackend({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, clock });
  const { store } = backend;
  const adminTokenFile = path.join(config.dataDir, ADMIN_TOKEN_FILE);
  let keyIds: string[];
  try {
    const created = await setupInstance(store);
    if (created) {
      // a file left by an earlier database holds a token nothing accepts any more
      fs.rmSync(adminTokenFile, { force: true });
      writeSecretFile(adminTokenFile, created.adminToken + "\n");
      logger.info({ orgId: created.orgId, adminUserId: created.adminUserId, adminTokenFile }, "instance created");
    }
    keyIds = await checkEncryptionKeys(store, keys);
  } catch (err) {
    await store.close();
    throw err;
  }
  const cipher = new CodeCipher(keys);
  logger.info({ database: backend.kind, at: describeBackend(config), keyIds }, "database opened");

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
  const notifier = startNotification(config, { store, state: backend.notificationState({ leaseMs: config.notifyLeaseMs }), locks, cipher, clock, logger });
  const limitStore = backend.rateLimitStore();
  const background = new Set<Promise<unknown>>();

  return {
    store,
    database: backend.kind,
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
