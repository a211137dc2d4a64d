/** The bounded queue every password hash and verify goes through. */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { hashQueue } from "../src/crypto/hash_queue.js";
import type { PasswordHasher } from "../src/crypto/passwords.js";
import { LatchkeyError } from "../src/errors/errors.js";

/** A hasher whose calls finish when the test says so. */
function heldHasher() {
  const held: Array<() => void> = [];
  const wait = () => new Promise<void>((resolve) => held.push(resolve));
  const hasher: PasswordHasher = {
    hash: async (password) => (await wait(), `hash:${password}`),
    verify: async (hash, password) => (await wait(), hash === `hash:${password}`),
  };
  return { hasher, held, finishOne: () => held.shift()!() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("hashQueue", () => {
  it("runs `concurrency` at once, lets `maxWaiting` wait and refuses the rest at once", async () => {
    const { hasher, held, finishOne } = heldHasher();
    const queue = hashQueue(hasher, { concurrency: 2, maxWaiting: 1 });
    const admitted = [queue.hasher.hash("a"), queue.hasher.verify("hash:b", "b"), queue.hasher.hash("c")];
    await tick();
    expect([queue.running(), queue.waiting(), held.length]).toEqual([2, 1, 2]);

    const refused = await queue.hasher.hash("d").catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(LatchkeyError);
    expect(refused).toMatchObject({ code: Code.ResourceExhausted, id: "ARGON2-Qf7x2" });
    await expect(queue.hasher.verify("x", "y")).rejects.toMatchObject({ code: Code.ResourceExhausted });

    finishOne();
    await expect(admitted[0]).resolves.toBe("hash:a");
    await tick();
    expect([queue.running(), queue.waiting()]).toEqual([2, 0]);
    // room again: one may wait
    const late = queue.hasher.hash("e");
    finishOne();
    finishOne();
    await tick();
    finishOne();
    await expect(Promise.all([...admitted.slice(1), late])).resolves.toEqual([true, "hash:c", "hash:e"]);
    expect([queue.running(), queue.waiting()]).toEqual([0, 0]);
  });

  it("with no room to wait, only the running ones are admitted", async () => {
    const { hasher, finishOne } = heldHasher();
    const queue = hashQueue(hasher, { concurrency: 1, maxWaiting: 0 });
    const first = queue.hasher.hash("a");
    await expect(queue.hasher.hash("b")).rejects.toMatchObject({ code: Code.ResourceExhausted });
    await tick();
    finishOne();
    await expect(first).resolves.toBe("hash:a");
  });

  it("a failing hash frees its place", async () => {
    const queue = hashQueue({ hash: () => Promise.reject(new Error("boom")), verify: async () => true }, { concurrency: 1, maxWaiting: 0 });
    await expect(queue.hasher.hash("a")).rejects.toThrow("boom");
    await expect(queue.hasher.verify("h", "p")).resolves.toBe(true);
  });
});
