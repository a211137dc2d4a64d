/** Starts the notifier in its own thread (thread.ts) and relays its log lines and delivery outcomes. */
import { Worker, type MessagePort } from "node:worker_threads";
import type { NotificationSettings } from "./settings.js";
import { destinationOf, ownBindings, type Logger } from "../logger.js";
import type { Notifier, NotifierOptions } from "./notifier.js";
import type { NotifierThreadData, NotifierThreadMessage } from "./thread.js";

export interface NotifierThreadOptions {
  keys: Buffer[];
  /** a port to the SQLite event store's writer; absent on PostgreSQL */
  writer?: MessagePort;
  logger: Logger;
  onDelivery?: NotifierOptions["onDelivery"];
  /** told of the thread's appends, for metrics */
  onAppend?: (seconds: number) => void;
  onConflict?: () => void;
}

export async function startNotifierThread(config: NotificationSettings, options: NotifierThreadOptions): Promise<Notifier> {
  // from src/ (under the tests) the thread's modules are TypeScript that imports with .js names: tsx resolves them
  const fromSource = import.meta.url.endsWith(".ts");
  const data: NotifierThreadData = {
    latchkeyNotifier: true,
    config,
    keys: options.keys,
    // without the fields every line has anyway (the thread's logger adds them itself)
    logBindings: ownBindings(options.logger),
    ...(options.writer && { writer: options.writer }),
  };
  const worker = new Worker(new URL(`./thread.${fromSource ? "ts" : "js"}`, import.meta.url), {
    workerData: data,
    transferList: options.writer ? [options.writer] : [],
    execArgv: fromSource ? ["--import", "tsx"] : [],
  });
  // the lines are finished (redacted, scrubbed) in the thread: they go to the same place as this thread's own
  const destination = destinationOf(options.logger);
  let stopped: (() => void) | undefined;
  let exited = false;
  const started = new Promise<void>((resolve, reject) => {
    worker.on("message", (message: NotifierThreadMessage) => {
      switch (message.kind) {
        case "log":
          destination.write(message.text);
          return;
        case "delivery":
          options.onDelivery?.(message.outcome, message.channel);
          return;
        case "append":
          options.onAppend?.(message.seconds);
          return;
        case "conflict":
          options.onConflict?.();
          return;
        case "started":
          resolve();
          return;
        case "failed":
          reject(new Error(`the notifier could not start: ${message.message}`));
          return;
        case "stopped":
          stopped?.();
      }
    });
    worker.on("error", reject);
    worker.on("exit", (code) => {
      exited = true;
      reject(new Error(`the notifier's thread stopped (exit code ${code})`));
      stopped?.();
    });
  });
  try {
    await started;
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  worker.unref();
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= exited
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            stopped = resolve;
            worker.ref();
            worker.postMessage({ kind: "stop" });
          });
      return closing;
    },
  };
}
