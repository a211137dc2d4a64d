import { describe, expect, it } from "vitest";
import { KeptPolicy } from "../src/command/kept_policy.js";

const allowedOf = (policy: KeptPolicy, calls: number) => Array.from({ length: calls }, () => policy.allows()).filter(Boolean).length;

describe("KeptPolicy", () => {
  it("lets every command try the kept state while the tries find it current", () => {
    const policy = new KeptPolicy();
    for (let i = 0; i < 1000; i++) {
      expect(policy.allows()).toBe(true);
      policy.record(true);
    }
  });

  it("stops the tries when half of them find the state stale, but for one probe in 32", () => {
    const policy = new KeptPolicy();
    for (let i = 0; i < 200; i++) policy.record(i % 2 === 0);
    expect(policy.share).toBeLessThan(0.8);
    expect(allowedOf(policy, 320)).toBe(10);
  });

  it("tolerates a stale try now and then", () => {
    const policy = new KeptPolicy();
    for (let i = 0; i < 1000; i++) policy.record(i % 20 !== 0);
    expect(policy.allows()).toBe(true);
  });

  it("resumes the tries within some 2,000 commands once the probes find the state current again", () => {
    const policy = new KeptPolicy();
    for (let i = 0; i < 200; i++) policy.record(false);
    let tries = 0;
    let commands = 0;
    for (; commands < 2000 && policy.share < 0.8; commands++) {
      // each command that tries finds the state current now
      if (policy.allows()) {
        tries++;
        policy.record(true);
      }
    }
    expect(commands).toBeLessThan(2000);
    expect(tries).toBeGreaterThan(1);
    expect(tries).toBeLessThan(commands / 16);
    expect(allowedOf(policy, 32)).toBe(32);
  });
});
