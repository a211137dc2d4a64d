/** Starts the real server on a free port with a fresh data directory (and database, see backend.ts). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll } from "vitest";
import { createOperatorCommands } from "../../src/command/instance.js";
import { defaultConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import type { PasswordHasher } from "../../src/crypto/passwords.js";
import { loadOrCreateEncryptionKey } from "../../src/eventstore/data_dir.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { testDatabaseFor } from "./backend.js";

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  adminToken: string;
  /** every log line the server wrote */
  logs: string[];
  server: RunningServer;
  operator: ReturnType<typeof createOperatorCommands>;
  close(): Promise<void>;
}

export function tempDir(prefix = "latchkey-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startTestServer(
  options: { config?: Partial<Config>; clock?: () => Date; dataDir?: string; hasher?: PasswordHasher } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const databaseUrl = await testDatabaseFor(dataDir);
  let database: Partial<Config> = {};
  if (databaseUrl) {
    // On PostgreSQL the key comes from configuration; keeping it in the usual file lets realCode() read it.
    loadOrCreateEncryptionKey(dataDir);
    database = { databaseUrl, encryptionKeyFile: path.join(dataDir, "encryption.key") };
  }
  const defaults = defaultConfig();
  // Tests make hundreds of calls without a token from loopback; the one that tests this limit sets it.
  const rateLimits = { ...defaults.rateLimits, anonymousPerIp: undefined };
  const config: Config = { ...defaults, host: "127.0.0.1", port: 0, dataDir, externalUrl: "http://localhost:8080", rateLimits, ...database, ...options.config };
  const server = await startServer(config, createLogger({ destination }), {
    ...(options.clock && { clock: options.clock }),
    ...(options.hasher && { hasher: options.hasher }),
  });
  const adminToken = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim();
  return {
    url: server.url,
    port: server.port,
    dataDir,
    adminToken,
    logs,
    server,
    operator: createOperatorCommands(server.app.aggregates),
    async close() {
      await server.close();
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * One server for the whole test file: started before its first test, closed
 * after its last. The properties read the running server's.
 */
export function useTestServer(options: Parameters<typeof startTestServer>[0] = {}): TestServer {
  let current: TestServer | undefined;
  beforeAll(async () => {
    current = await startTestServer(options);
  }, 60_000);
  afterAll(async () => {
    await current?.close();
  });
  const started = (): TestServer => {
    if (!current) throw new Error("the test server starts in beforeAll: use it inside a test or hook");
    return current;
  };
  return {
    get url() { return started().url; },
    get port() { return started().port; },
    get dataDir() { return started().dataDir; },
    get adminToken() { return started().adminToken; },
    get logs() { return started().logs; },
    get server() { return started().server; },
    get operator() { return started().operator; },
    close: () => started().close(),
  };
}

/** A token of an ORG_OWNER of another organization than the default one: allowed nothing on the default organization's users. */
export async function addForeignOwnerToken(server: Pick<TestServer, "operator">, orgName = "other"): Promise<string> {
  const org = await server.operator.addOrg(orgName);
  const owner = await server.operator.addMachineUser(org, `${orgName}-owner`, "ORG_OWNER");
  return server.operator.addToken(owner);
}
