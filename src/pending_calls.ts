/**
 * Calls sent to another thread that wait for their answer, by number.
 *
 * The numbers are slots of one array, reused in place. A Map that gained and
 * lost an entry on every call would be rehashed by V8 again and again, and
 * each table it left behind in the old generation would keep the waiters it
 * held, and through their promises whole requests, alive through the next
 * scavenges: they would all be promoted and collected only by a full GC.
 */
export interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

export class PendingCalls<T> {
  private readonly slots: (Waiter<T> | undefined)[] = [];
  private readonly free: number[] = [];
  private waiting = 0;

  /** how many calls wait */
  get size(): number {
    return this.waiting;
  }

  /** Keeps a waiter; its number is unique among the calls that wait. */
  add(waiter: Waiter<T>): number {
    const id = this.free.pop() ?? this.slots.length;
    this.slots[id] = waiter;
    this.waiting++;
    return id;
  }

  /** The waiter of an answer, which no longer waits; undefined for a number that has none. */
  take(id: number): Waiter<T> | undefined {
    const waiter = Number.isInteger(id) ? this.slots[id] : undefined;
    if (waiter === undefined) return undefined;
    this.slots[id] = undefined;
    this.free.push(id);
    this.waiting--;
    return waiter;
  }

  /** Every waiter, none of which waits any longer (the other side is gone). */
  takeAll(): Waiter<T>[] {
    const all = this.slots.filter((waiter) => waiter !== undefined);
    this.slots.length = 0;
    this.free.length = 0;
    this.waiting = 0;
    return all;
  }
}
