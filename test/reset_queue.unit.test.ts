/** change_password's background queue: random start delays, bounded concurrency and length, close() runs the rest. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ResetQueue, admits, startDelay, startsNow } from "../src/auth0/reset_queue.js";

describe("the queue's rules", () => {
  it("spreads start delays over [0, spread)", () => {
    expect(startDelay(2000, 0)).toBe(0);
    expect(startDelay(2000, 0.5)).toBe(1000);
    expect(startDelay(2000, 0.99999)).toBe(1999);
    expect(startDelay(0, 0.7)).toBe(0);
  });

  it("admits work while the queue is shorter than its length", () => {
    expect(admits(0, 1)).toBe(true);
    expect(admits(999, 1000)).toBe(true);
    expect(admits(1000, 1000)).toBe(false);
  });

  it("starts ready work up to the concurrency", () => {
    expect(startsNow(0, 10, 4)).toBe(4);
    expect(startsNow(3, 10, 4)).toBe(1);
    expect(startsNow(4, 10, 4)).toBe(0);
    expect(startsNow(1, 2, 4)).toBe(2);
    expect(startsNow(0, 0, 4)).toBe(0);
  });
});

describe("ResetQueue", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** Work that records when it started and finishes when told. */
  function tracked() {
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const work = (name: string) => () => {
      started.push(name);
      return new Promise<void>((resolve) => finish.set(name, resolve));
    };
    return { started, finish, work };
  }

  it("starts each piece of work after its own random delay, not with the call", async () => {
    const randoms = [0.5, 0.1, 0.9];
    const queue = new ResetQueue({ spreadMs: 1000, concurrency: 4, maxLength: 10, random: () => randoms.shift()! });
    const { started, work } = tracked();
    queue.add(work("a"));
    queue.add(work("b"));
    queue.add(work("c"));
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(started).toEqual(["b"]);
    await vi.advanceTimersByTimeAsync(400);
    expect(started).toEqual(["b", "a"]);
    await vi.advanceTimersByTimeAsync(400);
    expect(started).toEqual(["b", "a", "c"]);
    expect(queue.length).toBe(3);
  });

  it("runs at most `concurrency` at once; the next starts when one finishes", async () => {
    const queue = new ResetQueue({ spreadMs: 10, concurrency: 2, maxLength: 10, random: () => 0 });
    const { started, finish, work } = tracked();
    for (const name of ["a", "b", "c"]) queue.add(work(name));
    await vi.advanceTimersByTimeAsync(10);
    expect(started).toEqual(["a", "b"]);
    finish.get("b")!();
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(["a", "b", "c"]);
    expect(queue.length).toBe(2);
  });

  it("drops work past its length and says so; a failing piece does not stop the queue", async () => {
    const onDrop = vi.fn();
    const queue = new ResetQueue({ spreadMs: 10, concurrency: 1, maxLength: 2, random: () => 0, onDrop });
    const ran: string[] = [];
    queue.add(() => Promise.reject(new Error("boom")));
    queue.add(async () => void ran.push("second"));
    queue.add(async () => void ran.push("third"));
    expect(onDrop).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(ran).toEqual(["second"]);
    expect(queue.length).toBe(0);
  });

  it("close() starts what still waits without its delay and resolves when all has run", async () => {
    const queue = new ResetQueue({ spreadMs: 60_000, concurrency: 1, maxLength: 10, random: () => 0.99 });
    const { started, finish, work } = tracked();
    queue.add(work("a"));
    queue.add(work("b"));
    let closed = false;
    const closing = queue.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(["a"]);
    finish.get("a")!();
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(["a", "b"]);
    expect(closed).toBe(false);
    finish.get("b")!();
    await closing;
    expect(closed).toBe(true);
  });

  it("with no spread starts work at once, without a timer", async () => {
    const queue = new ResetQueue({ spreadMs: 0, concurrency: Infinity, maxLength: 10 });
    const { started, work } = tracked();
    queue.add(work("a"));
    expect(vi.getTimerCount()).toBe(0);
    await Promise.resolve();
    expect(started).toEqual(["a"]);
  });
});
