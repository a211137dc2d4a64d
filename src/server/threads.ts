/**
 * `--workers N`: N threads of one process serve the one port. The main thread
 * serves as worker 0 and owns what there is one of per process: the SQLite
 * writer thread every thread appends through (so all appends share one group
 * commit), the notifier thread, the rate limit counters (the other threads ask
 * it, see ratelimit/remote.ts) and /metrics, which adds up every thread's
 * counts. Each thread listens on the port with SO_REUSEPORT and the kernel
 * spreads new connections over them. A serving thread that dies is replaced.
 */
import { MessageChannel, Worker } from "node:worker_threads";
import type { Config } from "../config.js";
import { destinationOf, ownBindings, type Logger } from "../logger.js";
import type { MetricsSource } from "../metrics/metrics.js";
import { enabledLimits, serveRateLimits } from "../ratelimit/remote.js";
import { startServer, type RunningServer } from "./server.js";
import type { ServingThreadData, ServingThreadMessage, ServingThreadRequest } from "./serving_thread.js";

const RESTART_DELAY_MS = 1000;

interface ServingThread {
  readonly worker: Worker;
  /** resolves once the thread listens */
  readonly started: Promise<void>;
  metrics: MetricsSource;
  /** asks the thread to finish its requests and stop; resolves when it has */
  stop(): Promise<void>;
}

export async function startWorkers(config: Config, logger: Logger): Promise<RunningServer> {
  const main = await startServer(config, logger.child({ worker: 0 }), { reusePort: true });
  const { app } = main;
  // the others take the port the main thread got (it may have asked for any free one)
  const threadConfig: Config = { ...config, port: main.port };
  const threads = new Map<number, ServingThread>();
  let stopping = false;

  const start = (index: number): Promise<void> => {
    const thread = startThread(index);
    threads.set(index, thread);
    thread.worker.on("exit", (code) => {
      if (threads.get(index) !== thread) return;
      threads.delete(index);
      if (stopping) return;
      logger.error({ worker: index, code }, "serving thread stopped; starting another");
      setTimeout(() => {
        if (!stopping) start(index).catch((err: unknown) => logger.error({ err, worker: index }, "serving thread could not start"));
      }, RESTART_DELAY_MS).unref();
    });
    return thread.started;
  };

  const startThread = (index: number): ServingThread => {
    const limits = new MessageChannel();
    serveRateLimits(limits.port1, app.limits);
    const writer = app.writerPort?.();
    const data: ServingThreadData = {
      latchkeyServingThread: true,
      config: threadConfig,
      logBindings: { ...ownBindings(logger), worker: index },
      limits: limits.port2,
      enabledLimits: enabledLimits(app.limits),
      ...(writer && { writer }),
    };
    // from src/ (under the tests) the thread's modules are TypeScript that imports with .js names: tsx resolves them
    const fromSource = import.meta.url.endsWith(".ts");
    const worker = new Worker(new URL(`./serving_thread.${fromSource ? "ts" : "js"}`, import.meta.url), {
      workerData: data,
      transferList: writer ? [limits.port2, writer] : [limits.port2],
      execArgv: fromSource ? ["--import", "tsx"] : [],
    });
    const destination = destinationOf(logger);
    const scrapes = new Map<number, (values: Awaited<ReturnType<MetricsSource>>) => void>();
    let nextScrape = 1;
    let onStopped: (() => void) | undefined;
    const started = new Promise<void>((resolve, reject) => {
      worker.on("message", (message: ServingThreadMessage) => {
        switch (message.kind) {
          case "log":
            destination.write(message.text);
            return;
          case "listening":
            resolve();
            return;
          case "failed":
            reject(new Error(`serving thread ${index} could not start: ${message.message}`));
            return;
          case "metrics":
            scrapes.get(message.id)?.(message.values);
            scrapes.delete(message.id);
            return;
          case "stopped":
            onStopped?.();
        }
      });
      worker.on("error", (err) => {
        logger.error({ err, worker: index }, "serving thread failed");
        reject(err);
      });
      worker.on("exit", (code) => {
        reject(new Error(`serving thread ${index} stopped (exit code ${code})`));
        for (const answer of scrapes.values()) answer([]);
        onStopped?.();
      });
    });
    const post = (request: ServingThreadRequest) => worker.postMessage(request);
    return {
      worker,
      started,
      metrics: () =>
        new Promise((resolve) => {
          const id = nextScrape++;
          scrapes.set(id, resolve);
          post({ kind: "metrics", id });
        }),
      stop: () =>
        new Promise<void>((resolve) => {
          onStopped = resolve;
          post({ kind: "stop" });
        }),
    };
  };

  // a thread's metrics are read through whichever thread serves as that worker now
  for (let index = 1; index < config.workers; index++) {
    app.metrics?.include(() => threads.get(index)?.metrics() ?? Promise.resolve([]));
  }
  try {
    await Promise.all(Array.from({ length: config.workers - 1 }, (_, i) => start(i + 1)));
  } catch (err) {
    stopping = true;
    await Promise.all([...threads.values()].map((t) => t.worker.terminate()));
    await main.close();
    throw err;
  }

  return {
    ...main,
    async close() {
      stopping = true;
      // the threads append through the main thread's writer: they stop first
      await Promise.all([...threads.values()].map((t) => t.stop()));
      await main.close();
    },
  };
}
