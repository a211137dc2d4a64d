/**
 * The event store's side of the writer thread (sqlite_writer.ts): requests
 * numbered and answered through promises. The thread that opens the file
 * first starts the writer; event stores in other threads of the process reach
 * the same writer through a port it hands out, so all appends share one
 * connection and one group commit. The appends asked for in one turn of the
 * event loop go to the writer as one request and come back in one answer.
 * Turns do not wait for each other's answers: what reaches the writer while
 * it commits goes into its next commit.
 */
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import Database from "better-sqlite3";
import { ConcurrencyError, storedEvent, UniqueConstraintError, type AggregateAt, type StoredEvent } from "./eventstore.js";
import type { AppendOutcome, AppendRequest, CounterRow, WriteConflict, WriterOptions, WriterReply, WriterRequest } from "./sqlite_writer.js";
import { PendingCalls } from "../pending_calls.js";

export interface WriterClient {
  /** resolves when the writer has opened the file; rejects when it cannot */
  readonly ready: Promise<void>;
  /** the append's events as stored; rejects with ConcurrencyError or UniqueConstraintError when it conflicts */
  append(append: AppendRequest): Promise<StoredEvent[]>;
  saveCounters(counters: readonly CounterRow[], now: number): Promise<void>;
  /** from now on, calls `listener` after each commit that holds appends of other threads, with what they changed */
  watchOthers(listener: (appended: readonly AggregateAt[]) => void): void;
  /** a new port to the same writer, to hand to another thread */
  attach(): MessagePort;
  running(): boolean;
  /** the writer's owner stops it after what is queued; another thread lets go of its port once its appends are answered */
  close(): Promise<void>;
}

/** Starts the writer thread. It keeps the process alive only while a request waits for it. */
export function startWriter(options: WriterOptions): WriterClient {
  // under the tests this module runs from src/ as TypeScript, which Node runs as it is
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  const worker = new Worker(new URL(`./sqlite_writer.${ext}`, import.meta.url), {
    workerData: { ...options, latchkeyWriter: true },
    execArgv: [],
  });
  const client = writerClient(worker, options.instanceId, true);
  worker.on("error", (err) => client.stop(err));
  worker.on("exit", (code) => client.stop(new Error(`the event store's writer stopped (exit code ${code})`)));
  return client;
}

/** Reaches the writer another thread started, through a port from its `attach`. */
export function connectWriter(port: MessagePort, instanceId: string): WriterClient {
  const client = writerClient(port, instanceId, false);
  port.on("close", () => client.stop(new Error("the event store's writer is gone")));
  return client;
}

function writerClient(target: Worker | MessagePort, instanceId: string, owner: boolean): WriterClient & { stop(err: Error): void } {
  // held while the writer starts and while a request waits for it
  if (!owner) target.unref();
  const waiting = new PendingCalls<unknown>();
  let stopped: Error | undefined;
  let onReady: { resolve(): void; reject(err: Error): void } | undefined;
  const ready = owner ? new Promise<void>((resolve, reject) => (onReady = { resolve, reject })) : Promise.resolve();
  ready.catch(() => {});
  let onClosed: (() => void) | undefined;
  let onIdle: (() => void) | undefined;
  const watching: ((appended: readonly AggregateAt[]) => void)[] = [];
  /** the appends of this turn of the event loop, sent together when it ends */
  let turn: TurnAppends | undefined;

  const request = <T>(message: (id: number) => WriterRequest): Promise<T> => {
    if (stopped) return Promise.reject(stopped);
    return new Promise<T>((resolve, reject) => {
      const id = waiting.add({ resolve: resolve as (value: unknown) => void, reject });
      target.ref();
      target.postMessage(message(id));
    });
  };

  const sendTurn = () => {
    const sent = turn;
    if (!sent) return;
    turn = undefined;
    request<AppendOutcome[]>((id) => ({ kind: "append", id, appends: sent.appends })).then(
      (outcomes) => {
        sent.callers.forEach((caller, i) => caller.resolve(outcomes[i]!));
      },
      (err: Error) => {
        for (const caller of sent.callers) caller.reject(err);
      },
    );
  };

  const stop = (err: Error) => {
    stopped ??= err;
    onReady?.reject(err);
    for (const pending of waiting.takeAll()) pending.reject(err);
    onClosed?.();
  };

  target.on("message", (reply: WriterReply) => {
    switch (reply.kind) {
      case "ready":
        onReady?.resolve();
        if (waiting.size === 0) target.unref();
        return;
      case "closed":
        stop(new Error("the event store is closed"));
        return;
      case "others":
        for (const listener of watching) listener(reply.appended);
        return;
      default: {
        const pending = waiting.take(reply.id);
        if (waiting.size === 0) {
          target.unref();
          onIdle?.();
        }
        if (reply.kind === "appended") pending?.resolve(reply.outcomes);
        else if (reply.kind === "saved") pending?.resolve(undefined);
        else pending?.reject(new Database.SqliteError(reply.message, reply.code ?? "SQLITE_ERROR"));
      }
    }
  });

  return {
    ready,
    stop,
    running: () => stopped === undefined,
    async append(append) {
      if (stopped) throw stopped;
      const outcome = await new Promise<AppendOutcome>((resolve, reject) => {
        if (!turn) {
          turn = { appends: [], callers: [] };
          setImmediate(sendTurn);
        }
        turn.appends.push(append);
        turn.callers.push({ resolve, reject });
      });
      if ("conflict" in outcome) throw toConflictError(outcome.conflict);
      return storedEvents(append, outcome.positions, instanceId);
    },
    saveCounters: (counters, now) => request((id) => ({ kind: "counters", id, counters, now })),
    watchOthers(listener) {
      if (watching.push(listener) === 1 && !stopped) target.postMessage({ kind: "watch" } satisfies WriterRequest);
    },
    attach() {
      const { port1, port2 } = new MessageChannel();
      target.postMessage({ kind: "attach", port: port2 } satisfies WriterRequest, [port2]);
      return port1;
    },
    close() {
      if (stopped) return Promise.resolve();
      // what was asked before closing is appended before the writer stops
      sendTurn();
      if (!owner) {
        const letGo = () => {
          stop(new Error("the event store is closed"));
          (target as MessagePort).close();
        };
        if (waiting.size === 0) {
          letGo();
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          onIdle = () => {
            letGo();
            resolve();
          };
        });
      }
      return new Promise<void>((resolve) => {
        onClosed = resolve;
        target.ref();
        target.postMessage({ kind: "close" } satisfies WriterRequest);
      });
    },
  };
}

interface TurnAppends {
  appends: AppendRequest[];
  /** one for each append, in the same order */
  callers: { resolve(outcome: AppendOutcome): void; reject(err: Error): void }[];
}

/** The events of an append as stored, from what was asked and the positions they got. */
function storedEvents(append: AppendRequest, positions: readonly number[], instanceId: string): StoredEvent[] {
  const createdAt = new Date(append.createdAt);
  let next = 0;
  return append.writes.flatMap((write) =>
    write.events.map((event, i) => storedEvent(write, event, write.expectedSequence + i + 1, positions[next++]!, instanceId, createdAt)),
  );
}

function toConflictError(conflict: WriteConflict): Error {
  return conflict.kind === "concurrency"
    ? new ConcurrencyError(conflict.aggregate, conflict.expectedSequence, conflict.actualSequence)
    : new UniqueConstraintError(conflict.constraint);
}
