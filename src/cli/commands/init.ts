import { loadConfig } from "../../config.js";
import { describeBackend } from "../../eventstore/open.js";
import { createLogger } from "../../logger.js";
import { NoInstanceError, openApp, openStore } from "../../server/app.js";
import { command, configFlags } from "../command.js";

// what init needs of start's configuration: where the instance lives and its key
const FLAGS = configFlags(["data-dir", "database-url", "encryption-key-file", "encryption-key"]);

export const init = command(
  "init",
  "create the instance (database, default organization, admin token) without serving",
  FLAGS,
  async (values) => {
    const config = loadConfig(process.env, values);
    const options = { dataDir: config.dataDir, databaseUrl: config.databaseUrl };
    const where = config.databaseUrl ? describeBackend(options) : config.dataDir;
    try {
      await (await openStore(options)).close();
      process.stdout.write(`latchkey instance already in ${where}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof NoInstanceError)) throw err;
    }
    // what start does first, then stop: migrations, the instance, its admin token, the key check
    const app = await openApp(config, createLogger({ level: "warn", destination: process.stderr }), { runNotifier: false });
    await app.close();
    process.stdout.write(`created a latchkey instance in ${where}; admin token in ${app.adminTokenFile}\n`);
    return 0;
  },
  "latchkey init [--data-dir DIR] [--database-url URL] [--encryption-key-file FILE]",
);
