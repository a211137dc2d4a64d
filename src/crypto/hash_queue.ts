/**
 * Every password hash and verify of a process goes through one bounded queue:
 * a few run at once, a bounded number wait, and over that the caller is
 * refused at once, so a flood of hashing neither stalls the threads other
 * work needs nor makes every caller wait behind it.
 */
import pLimit from "p-limit";
import { resourceExhausted } from "../errors/errors.js";
import type { PasswordHasher } from "./passwords.js";

/** Hashes at once: half of libuv's default pool of 4 threads, which file system, DNS and zlib work share. */
export const HASH_CONCURRENCY = 2;

export interface HashQueue {
  /** hashes and verifies through the queue; over its bound both reject with ResourceExhausted */
  readonly hasher: PasswordHasher;
  running(): number;
  waiting(): number;
}

export function hashQueue(inner: PasswordHasher, options: { maxWaiting: number; concurrency?: number }): HashQueue {
  const limit = pLimit(options.concurrency ?? HASH_CONCURRENCY);
  // at most `concurrency` running and `maxWaiting` waiting
  const admit = <T>(work: () => Promise<T>): Promise<T> => {
    if (limit.activeCount + limit.pendingCount >= limit.concurrency + options.maxWaiting) {
      return Promise.reject(resourceExhausted("ARGON2-Qf7x2", "Errors.Password.HashingBusy", "Too many passwords are being checked at once; try again in a moment"));
    }
    return limit(work);
  };
  return {
    hasher: {
      hash: (password) => admit(() => inner.hash(password)),
      verify: (hash, password) => admit(() => inner.verify(hash, password)),
    },
    running: () => limit.activeCount,
    waiting: () => limit.pendingCount,
  };
}
