/**
 * `--workers N`: N processes serve the one port (the primary hands each new
 * connection to a worker in turn). They share the database: on SQLite each
 * worker opens the file, WAL mode passes the write lock between them, and a
 * worker's optimistic check catches another's concurrent change. Exactly one
 * worker runs the notifier, because on SQLite its claims live in memory.
 */
import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { startMetricsServer, type MetricsServer } from "../metrics/server.js";
import { openApp } from "./app.js";
import { startServer } from "./server.js";

const WORKER_INDEX_ENV = "LATCHKEY_WORKER_INDEX";
const RESTART_DELAY_MS = 1000;

interface ListeningMessage {
  latchkey: "listening";
  url: string;
}

export interface Cluster {
  url: string;
  metricsUrl?: string;
  adminTokenFile: string;
  /** stops every worker and resolves when all have exited */
  close(): Promise<void>;
}

/** In a worker: serves until the primary disconnects it. */
export async function runWorker(config: Config, logger: Logger): Promise<void> {
  const index = Number(process.env[WORKER_INDEX_ENV]);
  const server = await startServer(config, logger.child({ worker: index, pid: process.pid }), { runNotifier: index === 0, serveMetrics: false });
  if (server.app.metrics) {
    // constructing one is what makes a worker answer the primary's requests for its metrics
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([server.app.metrics.registry]);
  }
  process.send!({ latchkey: "listening", url: server.url } satisfies ListeningMessage);
  let closing: Promise<void> | undefined;
  const stop = () => {
    closing ??= server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "worker shutdown failed");
        process.exit(1);
      },
    );
  };
  // the primary disconnects it; a signal to the whole process group (Ctrl-C) reaches it directly
  process.on("disconnect", stop);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/** In the primary: prepares the database once, then starts the workers and restarts any that dies. */
export async function startCluster(config: Config, logger: Logger): Promise<Cluster> {
  // migrations, the instance and its admin token: once, before the workers race for them
  const setup = await openApp(config, logger, { runNotifier: false });
  const adminTokenFile = setup.adminTokenFile;
  await setup.close();

  // one /metrics for the whole cluster: the sum of what the workers counted
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    const aggregator = new AggregatorRegistry();
    metricsServer = await startMetricsServer(
      { scrape: async () => ({ body: await aggregator.clusterMetrics(), contentType: aggregator.contentType }) },
      { host: config.metricsHost, port: config.metricsPort, logger },
    );
  }

  let stopping = false;
  const workers = new Map<number, Worker>();
  let firstUrl: ((url: string) => void) | undefined;
  const listening = new Promise<string>((resolve) => (firstUrl = resolve));
  let pendingStarts = config.workers;

  const fork = (index: number): void => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    workers.set(index, worker);
    worker.on("message", (message: ListeningMessage) => {
      if (message?.latchkey === "listening" && --pendingStarts === 0) firstUrl!(message.url);
    });
    worker.on("exit", (code, signal) => {
      workers.delete(index);
      if (stopping) return;
      logger.error({ worker: index, code, signal }, "worker exited; starting another");
      setTimeout(() => {
        if (!stopping) fork(index);
      }, RESTART_DELAY_MS).unref();
    });
  };
  for (let i = 0; i < config.workers; i++) fork(i);

  const url = await listening;
  logger.info({ url, workers: config.workers, adminTokenFile, ...(metricsServer && { metricsUrl: metricsServer.url }) }, "latchkey listening");
  return {
    url,
    ...(metricsServer && { metricsUrl: metricsServer.url }),
    adminTokenFile,
    async close() {
      stopping = true;
      const running = [...workers.values()];
      const all = Promise.all(running.map((w) => (w.isDead() ? Promise.resolve() : new Promise<void>((r) => w.once("exit", () => r())))));
      for (const worker of running) worker.disconnect();
      await all;
      await metricsServer?.close();
    },
  };
}

export const isWorker = (): boolean => cluster.isWorker;
