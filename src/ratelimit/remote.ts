/**
 * Rate limits counted in another thread. With `--workers`, every serving
 * thread asks the main thread, whose counters are the only ones: a limit
 * holds for the whole process, whichever thread a connection landed on.
 *
 * The calls a thread makes within one turn of its event loop travel as one
 * message, and come back as one.
 */
import type { MessagePort } from "node:worker_threads";
import type { LimitCounter, RateLimits } from "./limits.js";
import type { LimitStatus } from "./rules.js";
import { PendingCalls } from "../pending_calls.js";

type LimitName = keyof RateLimits;

interface LimitCall {
  id: number;
  name: LimitName;
  op: "consume" | "refund";
  key: string;
}

type LimitAnswer = { id: number; status: LimitStatus } | { id: number; error: string };

/** In the thread that owns the counters: answers the calls that arrive on `port`. */
export function serveRateLimits(port: MessagePort, limits: RateLimits): void {
  port.on("message", (calls: LimitCall[]) => {
    void Promise.all(
      calls.map(async ({ id, name, op, key }): Promise<LimitAnswer> => {
        try {
          const limit = limits[name];
          if (!limit) throw new Error(`rate limit ${name} is off here`);
          return { id, status: await limit[op](key) };
        } catch (err) {
          return { id, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    ).then((answers) => port.postMessage(answers));
  });
  // the serving threads' ports must not keep the process alive once they are done
  port.unref();
}

/** In a serving thread: limits with the same names as `enabled`, counted through `port`. */
export function remoteRateLimits(port: MessagePort, enabled: readonly LimitName[]): RateLimits {
  const waiting = new PendingCalls<LimitStatus>();
  let queued: LimitCall[] = [];

  port.on("message", (answers: LimitAnswer[]) => {
    for (const answer of answers) {
      const pending = waiting.take(answer.id);
      if ("status" in answer) pending?.resolve(answer.status);
      else pending?.reject(new Error(`rate limit: ${answer.error}`));
    }
    if (waiting.size === 0) port.unref();
  });
  port.on("close", () => {
    for (const pending of waiting.takeAll()) pending.reject(new Error("rate limit: the counting thread is gone"));
  });
  port.unref();

  const flush = () => {
    const calls = queued;
    queued = [];
    port.postMessage(calls);
  };
  const call = (name: LimitName, op: LimitCall["op"], key: string) =>
    new Promise<LimitStatus>((resolve, reject) => {
      const id = waiting.add({ resolve, reject });
      if (queued.length === 0) setImmediate(flush);
      queued.push({ id, name, op, key });
      port.ref();
    });

  const limits: RateLimits = {};
  for (const name of enabled) {
    const counter: LimitCounter = { consume: (key) => call(name, "consume", key), refund: (key) => call(name, "refund", key) };
    limits[name] = counter;
  }
  return limits;
}

/** The names of the limits that are on. */
export const enabledLimits = (limits: RateLimits): LimitName[] => (Object.keys(limits) as LimitName[]).filter((name) => limits[name] !== undefined);
