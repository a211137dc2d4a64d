/**
 * Where change_password's resets run after the answer. A reset for a known
 * address does more than one for an unknown address (a code is stored, a
 * message sent); run at once, that work would slow the caller's next request
 * and so tell it whether the address has an account. Each piece of work starts
 * instead after a random delay, the same for known and unknown addresses, a
 * few at a time, so that it lands on whatever request happens to be running
 * then. The queue is bounded: past its length work is dropped, whichever
 * address it was for, rather than held without end under a flood.
 */

export interface ResetQueueOptions {
  /** start delays are spread uniformly over [0, spreadMs) */
  spreadMs: number;
  /** pieces of work running at once */
  concurrency: number;
  /** pieces of work waiting or running; more are dropped */
  maxLength: number;
  /** told about each piece of work dropped (to warn, without saying whose) */
  onDrop?: () => void;
  /** [0, 1); Math.random unless a test decides */
  random?: () => number;
}

export const DEFAULT_RESET_QUEUE: Omit<ResetQueueOptions, "onDrop" | "random"> = {
  spreadMs: 2000,
  concurrency: 4,
  maxLength: 1000,
};

/** The delay before a piece of work may start, for a random number in [0, 1). */
export function startDelay(spreadMs: number, random: number): number {
  return Math.min(spreadMs, Math.max(0, Math.floor(random * spreadMs)));
}

/** Whether one more piece of work fits, with `length` waiting or running. */
export function admits(length: number, maxLength: number): boolean {
  return length < maxLength;
}

/** How many of the ready pieces of work start now. */
export function startsNow(running: number, ready: number, concurrency: number): number {
  return Math.max(0, Math.min(ready, concurrency - running));
}

type Work = () => Promise<unknown>;

export class ResetQueue {
  private readonly delayed = new Map<ReturnType<typeof setTimeout>, Work>();
  private readonly ready: Work[] = [];
  private running = 0;
  private closing = false;
  private idle: { promise: Promise<void>; resolve: () => void } | undefined;
  private readonly random: () => number;

  constructor(private readonly options: ResetQueueOptions) {
    this.random = options.random ?? Math.random;
  }

  /** pieces of work waiting or running */
  get length(): number {
    return this.delayed.size + this.ready.length + this.running;
  }

  /** Queues work to start after a random delay (at once while closing, or with no spread); drops it when the queue is full. Its failure is its own to report. */
  add(work: Work): void {
    if (!admits(this.length, this.options.maxLength)) {
      this.options.onDrop?.();
      return;
    }
    if (this.closing || this.options.spreadMs === 0) {
      this.ready.push(work);
      this.pump();
      return;
    }
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      this.ready.push(work);
      this.pump();
    }, startDelay(this.options.spreadMs, this.random()));
    timer.unref();
    this.delayed.set(timer, work);
  }

  /** Starts what still waits, without its delay, and resolves when everything has run. */
  async close(): Promise<void> {
    this.closing = true;
    for (const [timer, work] of this.delayed) {
      clearTimeout(timer);
      this.ready.push(work);
    }
    this.delayed.clear();
    this.pump();
    if (this.length === 0) return;
    this.idle ??= (() => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    })();
    await this.idle.promise;
  }

  private pump(): void {
    for (let n = startsNow(this.running, this.ready.length, this.options.concurrency); n > 0; n--) {
      const work = this.ready.shift()!;
      this.running++;
      void Promise.resolve()
        .then(work)
        .catch(() => {})
        .finally(() => {
          this.running--;
          this.pump();
          if (this.length === 0) this.idle?.resolve();
        });
    }
  }
}
