/**
 * A thread that serves the port beside the main thread (`--workers`, see
 * threads.ts). It builds the same server as the main thread, on the same port
 * (SO_REUSEPORT), with three differences: its appends go through the main
 * thread's SQLite writer, its rate limits are counted by the main thread, and
 * it runs no notifier. Log lines and metrics go to the main thread.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import type { Config } from "../config.js";
import { createLogger, threadMessages } from "../logger.js";
import { remoteRateLimits } from "../ratelimit/remote.js";
import type { RateLimits } from "../ratelimit/limits.js";
import type { MetricsSource } from "../metrics/metrics.js";
import { startServer } from "./server.js";

export interface ServingThreadData {
  latchkeyServingThread: true;
  /** the main thread's, with the port it got */
  config: Config;
  logBindings: Record<string, unknown>;
  /** to the main thread's SQLite writer; absent on PostgreSQL */
  writer?: MessagePort;
  /** to the main thread's rate limit counters */
  limits: MessagePort;
  enabledLimits: (keyof RateLimits)[];
}

export type ServingThreadRequest = { kind: "stop" } | { kind: "metrics"; id: number };

export type ServingThreadMessage =
  /** finished log lines, each ending in a newline */
  | { kind: "log"; text: string }
  | { kind: "listening"; url: string }
  | { kind: "failed"; message: string }
  | { kind: "metrics"; id: number; values: Awaited<ReturnType<MetricsSource>> }
  | { kind: "stopped" };

async function run(data: ServingThreadData, post: (message: ServingThreadMessage) => void, log: NodeJS.WritableStream): Promise<void> {
  const port = parentPort!;
  const logger = createLogger({ level: data.config.logLevel, destination: log }).child(data.logBindings);
  const server = await startServer(data.config, logger, {
    runNotifier: false,
    serveMetrics: false,
    reusePort: true,
    limits: remoteRateLimits(data.limits, data.enabledLimits),
    ...(data.writer && { sqliteWriter: data.writer }),
  });
  port.on("message", (request: ServingThreadRequest) => {
    if (request.kind === "metrics") {
      const values = server.app.metrics ? server.app.metrics.registry.getMetricsAsJSON() : Promise.resolve([]);
      void values.then((v) => post({ kind: "metrics", id: request.id, values: v }));
      return;
    }
    void server.close().then(
      () => {
        post({ kind: "stopped" });
        port.close();
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        post({ kind: "stopped" });
        port.close();
      },
    );
  });
  post({ kind: "listening", url: server.url });
}

const data = workerData as ServingThreadData | undefined;
if (parentPort && data?.latchkeyServingThread) {
  const { log, post } = threadMessages<ServingThreadMessage>(parentPort, (text) => ({ kind: "log", text }));
  run(data, post, log).catch((err: unknown) => post({ kind: "failed", message: err instanceof Error ? err.message : String(err) }));
}
