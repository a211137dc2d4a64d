/** The composition root: opens the data directory and the database, and wires the commands. */
import fs from "node:fs";
import type { MessagePort } from "node:worker_threads";
import path from "node:path";
import { DEFAULT_RESET_QUEUE, ResetQueue } from "../auth0/reset_queue.js";
import { Aggregates } from "../command/aggregates.js";
import { authenticate, readDefaultOrgId, setupInstance } from "../command/instance.js";
import type { Principal } from "../command/permissions.js";
import { cachedAuthenticate } from "../command/token_cache.js";
import { breachRange } from "../command/password_rules/breach_range.js";
import { createUserCommands, type UserCommands } from "../command/user/commands.js";
import { createUserQueries, type UserQueries } from "../query/queries.js";
import type { Config } from "../config.js";
import { CodeCipher } from "../crypto/code_cipher.js";
import { HASH_CONCURRENCY, hashQueue } from "../crypto/hash_queue.js";
import { argon2idHasher, type PasswordHasher } from "../crypto/passwords.js";
import type { EventStore } from "../eventstore/eventstore.js";
import { observeAppends } from "../eventstore/observed.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { watchNotifier } from "../metrics/notifier.js";
import { instrumentRateLimits } from "../metrics/rate_limits.js";
import { startNotifierThread } from "../notification/in_thread.js";
import type { Notifier } from "../notification/notifier.js";
import { startNotification } from "../notification/start.js";
import { notificationStateFor } from "../notification/state_for.js";
import { createRateLimits, type RateLimits } from "../ratelimit/limits.js";
import { rateLimitStoreFor } from "../ratelimit/store.js";
import { describeBackend, openBackend, type BackendKind, type BackendOptions } from "../eventstore/open.js";
import { ADMIN_TOKEN_FILE, DATABASE_FILE, dataDirExists, ensureDataDir, writeSecretFile } from "../eventstore/data_dir.js";
import { checkEncryptionKeys } from "../command/encryption_keys.js";
import { loadEncryptionKeys } from "../eventstore/encryption_keys.js";

export interface App {
  store: EventStore;
  /** where the state lives: "sqlite" or "postgresql" */
  database: BackendKind;
  /** the folded aggregates this process keeps; operator commands on a running instance go through them too */
  aggregates: Aggregates;
  users: UserCommands;
  queries: UserQueries;
  /** a bearer token's principal, by the token's hash (see hashToken) */
  authenticate(tokenHash: string): Promise<Principal | undefined>;
  limits: RateLimits;
  /** the process's queue of password hashing */
  hashing: { running(): number; waiting(): number };
  /** work that outlives its request, started after a random delay (see ResetQueue); close() waits for it */
  runInBackground(work: () => Promise<unknown>): void;
  adminTokenFile: string;
  /** present when metrics are on (--metrics-port) */
  metrics?: Metrics;
  /** on SQLite: a new port to this process's writer, for another thread to append through */
  writerPort?(): MessagePort;
  close(): Promise<void>;
}

export interface AppOptions {
  clock?: () => Date;
  metrics?: Metrics;
  /** false in the serving threads beside the main one (see threads.ts): one notifier per process; default true */
  runNotifier?: boolean;
  /** hashes and verifies passwords; default argon2id with the configured cost */
  hasher?: PasswordHasher;
  /** on SQLite, append through the writer of the thread that gave this port (see threads.ts) */
  sqliteWriter?: MessagePort;
  /** limits counted elsewhere (by the main thread, see ratelimit/remote.ts); default: counted here */
  limits?: RateLimits;
}

/** A data directory or database without an instance: operator commands never create one. */
export class NoInstanceError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "SERVER-NoIn7";
  constructor(options: BackendOptions) {
    const where = options.databaseUrl ? `${describeBackend(options)}: start the server first or pass --database-url` : `${options.dataDir}: start the server first or pass --data-dir`;
    super(`no latchkey instance in ${where} ('latchkey init' creates one)`);
  }
}

/**
 * Opens the event store of an existing instance, for the operator commands.
 * A folder without its database is refused before anything is created in
 * it, so a mistyped --data-dir or the wrong working directory leaves no trace.
 */
export async function openStore(options: BackendOptions): Promise<EventStore> {
  if (!options.databaseUrl && !(dataDirExists(options.dataDir) && fs.existsSync(path.join(options.dataDir, DATABASE_FILE)))) {
    throw new NoInstanceError(options);
  }
  const { store } = await openBackend(options);
  try {
    if ((await readDefaultOrgId(store)) === "") throw new NoInstanceError(options);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

export async function openApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? (() => new Date());
  // the admin token and the outbox live here, on PostgreSQL too
  ensureDataDir(config.dataDir);
  const keys = loadEncryptionKeys(config);
  const backend = await openBackend({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, clock, sqliteWriter: options.sqliteWriter });
  const { metrics } = options;
  // the notifier thread's appends count here too, like this thread's own
  const onAppend = metrics && {
    onAppend: (seconds: number) => metrics.appendDuration.observe(seconds),
    onConflict: () => metrics.concurrencyConflicts.inc(),
  };
  const store = onAppend ? observeAppends(backend.store, onAppend) : backend.store;
  const adminTokenFile = path.join(config.dataDir, ADMIN_TOKEN_FILE);
  // on the SQLite file of a single process, this process makes nearly every append, and its threads hear of each other's
  const aggregates = new Aggregates(store, { decideOnKept: backend.kind === "sqlite" });
  let keyIds: string[];
  try {
    const created = await setupInstance(store);
    if (created) {
      // a file left by an earlier database holds a token nothing accepts any more
      fs.rmSync(adminTokenFile, { force: true });
      writeSecretFile(adminTokenFile, created.adminToken + "\n");
      logger.info({ orgId: created.orgId, adminUserId: created.adminUserId, adminTokenFile }, "instance created");
    }
    keyIds = await checkEncryptionKeys(aggregates, keys);
  } catch (err) {
    await store.close();
    throw err;
  }
  const cipher = new CodeCipher(keys);
  logger.info({ database: backend.kind, at: describeBackend(config), keyIds }, "database opened");

  const hashing = hashQueue(
    options.hasher ??
      argon2idHasher({
        memoryCost: config.argon2.memoryKiB,
        timeCost: config.argon2.iterations,
        parallelism: config.argon2.parallelism,
      }),
    // with --workers the threads share the process's allowance: libuv's thread pool is one per process
    {
      concurrency: Math.max(1, Math.floor(HASH_CONCURRENCY / config.workers)),
      maxWaiting: Math.ceil(config.argon2MaxQueue / config.workers),
    },
  );
  const commandDeps = {
    store,
    aggregates,
    clock,
    cipher,
    hasher: hashing.hasher,
    codes: { length: config.codeLength, ttlMs: config.codeTtlSeconds * 1000, maxAttempts: config.maxCodeAttempts },
    ...(config.breachedRangeUrl !== undefined && { breachRange: breachRange({ url: config.breachedRangeUrl, logger }) }),
  };
  const users = createUserCommands(commandDeps);
  const queries = createUserQueries(commandDeps);
  const notificationState = notificationStateFor(backend, { leaseMs: config.notifyLeaseMs });
  // the thread that runs the notifier reports its gauges
  if (metrics && options.runNotifier !== false) watchNotifier(metrics, notificationState, clock, logger);
  const onDelivery = metrics && { onDelivery: metrics.delivery };
  let notifier: Notifier | undefined;
  try {
    if (options.runNotifier === false) notifier = undefined;
    // a clock chosen by a test cannot reach another thread
    else if (options.clock) notifier = startNotification(config, { store, state: notificationState, aggregates, cipher, clock, logger, ...onDelivery });
    else notifier = await startNotifierThread(config, { keys, logger, ...(backend.kind === "sqlite" && { writer: backend.store.writerPort() }), ...onDelivery, ...onAppend });
  } catch (err) {
    await store.close();
    throw err;
  }
  const limitStore = options.limits ? undefined : rateLimitStoreFor(backend);
  const limits = options.limits ?? createRateLimits(limitStore!, config.rateLimits);
  const background = new ResetQueue({
    ...DEFAULT_RESET_QUEUE,
    // `npm run bench:change-password` compares with work that starts at once
    ...(process.env.LATCHKEY_BENCH_IMMEDIATE_RESETS === "1" && { spreadMs: 0, concurrency: Infinity }),
    onDrop: () => logger.warn("background work dropped: the queue is full"),
  });

  return {
    store,
    database: backend.kind,
    aggregates,
    users,
    queries,
    authenticate: cachedAuthenticate((tokenHash) => authenticate(store, tokenHash), { ttlMs: config.tokenCacheSeconds * 1000, maxEntries: 10_000 }),
    // limits counted in another thread are counted in its metrics
    limits: metrics && limitStore ? instrumentRateLimits(limits, metrics) : limits,
    hashing,
    runInBackground(work) {
      background.add(() => work().catch((err: unknown) => logger.error({ err }, "background work failed")));
    },
    adminTokenFile,
    ...(metrics && { metrics }),
    ...(backend.kind === "sqlite" && { writerPort: () => backend.store.writerPort() }),
    async close() {
      await background.close();
      await limitStore?.close();
      await notifier?.close();
      await store.close();
    },
  };
}
