/**
 * The notifier's own thread: it follows the event stream, renders and
 * delivers messages, and records the outcomes, away from the threads that
 * serve requests. It opens the database itself; on the SQLite file its
 * appends go through the writer of the thread that started it. Log lines and
 * delivery outcomes go to that thread, which writes and counts them.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { Aggregates } from "../command/aggregates.js";
import type { NotificationSettings } from "./settings.js";
import { CodeCipher } from "../crypto/code_cipher.js";
import { createLogger, threadMessages } from "../logger.js";
import { observeAppends } from "../eventstore/observed.js";
import { openBackend } from "../eventstore/open.js";
import type { Channel } from "./decide.js";
import type { DeliveryOutcome } from "./notifier.js";
import { startNotification } from "./start.js";
import { notificationStateFor } from "./state_for.js";

export interface NotifierThreadData {
  latchkeyNotifier: true;
  config: NotificationSettings;
  keys: Buffer[];
  /** the fields of the starting thread's log lines (a worker's index, say) */
  logBindings: Record<string, unknown>;
  /** the SQLite event store's writer (absent on PostgreSQL) */
  writer?: MessagePort;
}

export type NotifierThreadMessage =
  /** finished log lines, each ending in a newline */
  | { kind: "log"; text: string }
  | { kind: "delivery"; outcome: DeliveryOutcome; channel: Channel }
  | { kind: "append"; seconds: number }
  | { kind: "conflict" }
  | { kind: "started" }
  | { kind: "failed"; message: string }
  | { kind: "stopped" };

async function run(data: NotifierThreadData, post: (message: NotifierThreadMessage) => void, log: NodeJS.WritableStream): Promise<void> {
  const port = parentPort!;
  const { config } = data;
  const logger = createLogger({ level: config.logLevel, destination: log }).child(data.logBindings);
  const backend = await openBackend({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, sqliteWriter: data.writer });
  // its appends count in the serving thread's metrics like that thread's own
  const store = observeAppends(backend.store, {
    onAppend: (seconds) => post({ kind: "append", seconds }),
    onConflict: () => post({ kind: "conflict" }),
  });
  const notifier = startNotification(config, {
    store,
    state: notificationStateFor(backend, { leaseMs: config.notifyLeaseMs }),
    aggregates: new Aggregates(store),
    cipher: new CodeCipher(data.keys),
    clock: () => new Date(),
    logger,
    onDelivery: (outcome, channel) => post({ kind: "delivery", outcome, channel }),
  });
  port.on("message", (message: { kind: "stop" }) => {
    if (message.kind !== "stop") return;
    void (async () => {
      await notifier.close();
      await store.close();
      post({ kind: "stopped" });
      port.close();
    })();
  });
  post({ kind: "started" });
}

const data = workerData as NotifierThreadData | undefined;
if (parentPort && data?.latchkeyNotifier) {
  const { log, post } = threadMessages<NotifierThreadMessage>(parentPort, (text) => ({ kind: "log", text }));
  run(data, post, log).catch((err: unknown) => post({ kind: "failed", message: err instanceof Error ? err.message : String(err) }));
}
