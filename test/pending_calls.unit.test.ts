import { describe, expect, it } from "vitest";
import { PendingCalls, type Waiter } from "../src/pending_calls.js";

function waiter(log: string[], name: string): Waiter<number> {
  return { resolve: (value) => log.push(`${name} ${value}`), reject: (err) => log.push(`${name} ${err.message}`) };
}

describe("PendingCalls", () => {
  it("hands each waiting call its own number and gives the waiter back once", () => {
    const calls = new PendingCalls<number>();
    const log: string[] = [];
    const a = calls.add(waiter(log, "a"));
    const b = calls.add(waiter(log, "b"));
    expect(a).not.toBe(b);
    expect(calls.size).toBe(2);
    calls.take(b)!.resolve(2);
    expect(calls.take(b)).toBeUndefined();
    calls.take(a)!.resolve(1);
    expect(log).toEqual(["b 2", "a 1"]);
    expect(calls.size).toBe(0);
  });

  it("reuses the number of an answered call, never one still waiting", () => {
    const calls = new PendingCalls<number>();
    const log: string[] = [];
    const a = calls.add(waiter(log, "a"));
    const b = calls.add(waiter(log, "b"));
    calls.take(a);
    const c = calls.add(waiter(log, "c"));
    expect(c).toBe(a);
    expect(c).not.toBe(b);
    calls.take(c)!.resolve(3);
    calls.take(b)!.resolve(2);
    expect(log).toEqual(["c 3", "b 2"]);
  });

  it("knows no waiter for a number it never gave", () => {
    const calls = new PendingCalls<number>();
    calls.add(waiter([], "a"));
    for (const id of [-1, 1, 0.5, 99, Number.NaN]) expect(calls.take(id)).toBeUndefined();
    expect(calls.size).toBe(1);
  });

  it("gives every waiter up at once when the other side is gone", () => {
    const calls = new PendingCalls<number>();
    const log: string[] = [];
    calls.add(waiter(log, "a"));
    calls.take(calls.add(waiter(log, "b")));
    calls.add(waiter(log, "c"));
    for (const w of calls.takeAll()) w.reject(new Error("gone"));
    expect(log).toEqual(["a gone", "c gone"]);
    expect(calls.size).toBe(0);
    expect(calls.add(waiter(log, "d"))).toBe(0);
  });
});
