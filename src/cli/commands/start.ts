import fs from "node:fs";
import { loadConfig } from "../../config.js";
import { createLogger } from "../../logger.js";
import { checkPortFree } from "../../server/port.js";
import { startServer } from "../../server/server.js";
import { startWorkers } from "../../server/threads.js";
import { command, configFlags } from "../command.js";

export const start = command(
  "start",
  "serve gRPC, gRPC-web, Connect and REST on one port",
  configFlags(),
  async (values) => {
    const config = loadConfig(process.env, values);
    const logger = createLogger({ level: config.logLevel });
    // a busy port fails here, before the database is opened and the notifier started
    await checkPortFree(config.port, config.host);
    if (config.metricsPort !== undefined) await checkPortFree(config.metricsPort, config.metricsHost, "metrics port");
    const server = config.workers > 1 ? await startWorkers(config, logger) : await startServer(config, logger);
    const { adminTokenFile } = server.app;
    // on a shared database only the instance that created it holds the admin token
    const token = fs.existsSync(adminTokenFile) ? `admin token in ${adminTokenFile}` : "admin token with the instance that created the database";
    const workers = config.workers > 1 ? `; ${config.workers} workers` : "";
    process.stderr.write(`latchkey listening on ${server.url}; ${token}${workers}\n`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info({ signal }, "shutting down");
        server.close().then(resolve, (err: unknown) => {
          logger.error({ err }, "shutdown failed");
          resolve();
        });
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
    return 0;
  },
  "latchkey start [flags]",
);
