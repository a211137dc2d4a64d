import { describe, expect, it } from "vitest";
import { backoffMs } from "../src/command/execute.js";

describe("backoffMs, the wait before a command tries again after losing a race", () => {
  it("is a random share of a ceiling that doubles with each lost race", () => {
    expect([0, 1, 2, 3].map((attempt) => backoffMs(attempt, () => 1))).toEqual([1, 2, 4, 8]);
    expect(backoffMs(3, () => 0.5)).toBe(4);
    expect(backoffMs(5, () => 0)).toBe(0);
  });

  it("never waits more than 100 ms, and 10 attempts wait less than half a second in all", () => {
    expect(backoffMs(7, () => 1)).toBe(100);
    expect(backoffMs(30, () => 1)).toBe(100);
    const total = Array.from({ length: 10 }, (_, attempt) => backoffMs(attempt, () => 1)).reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(500);
  });
});
