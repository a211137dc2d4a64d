import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { openPostgresEventStore, type PostgresEventStore } from "../src/eventstore/postgres.js";
import {
  postgresNotificationState,
  type PostgresNotificationStateOptions,
  type SharedNotificationState,
} from "../src/notification/postgres_state.js";
import type { NewJob } from "../src/notification/state.js";
import { createDatabase, dropDatabase } from "./support/postgres.js";

const NOW = Date.UTC(2024, 4, 1);

function job(position: number, createdAt = NOW - 1000): NewJob {
  return { position, aggregateType: "user", aggregateId: `u${position}`, sequence: 2, createdAt };
}

describe("PostgreSQL notification state", () => {
  let url: string;
  let stores: PostgresEventStore[];

  beforeEach(async () => {
    url = await createDatabase(inject("postgresUrl"), "notification_pg");
    stores = [];
  });

  afterEach(async () => {
    for (const store of stores) await store.close();
    await dropDatabase(url);
  });

  /** A state on a pool of its own, as another latchkey process would have. */
  async function startProcess(options: PostgresNotificationStateOptions = {}): Promise<SharedNotificationState> {
    const store = await openPostgresEventStore({ url, pool: { max: 3 } });
    stores.push(store);
    return postgresNotificationState(store.pool, options);
  }

  it("records jobs and moves the checkpoint together", async () => {
    const state = await startProcess();
    expect(await state.checkpoint()).toBe(0);
    expect(await state.stats()).toEqual({ head: 0, pending: 0 });

    await state.advance([job(3, NOW - 5000), job(7)], 9, NOW);

    expect(await state.checkpoint()).toBe(9);
    expect(await state.stats()).toEqual({ head: 0, pending: 2, oldestPendingAt: NOW - 5000 });
    expect(await state.claimDue(NOW, 10)).toEqual([
      { ...job(3, NOW - 5000), attempts: 0, nextAttemptAt: NOW },
      { ...job(7), attempts: 0, nextAttemptAt: NOW },
    ]);
  });

  it("reports the head of the instance's event stream", async () => {
    const state = await startProcess({ instanceId: "inst1" });
    const store = await openPostgresEventStore({ url, instanceId: "inst1" });
    stores.push(store);
    const stored = await store.append([
      { aggregate: { type: "user", id: "u1" }, resourceOwner: "o", expectedSequence: 0, events: [{ type: "a", payload: {}, editor: "e" }] },
    ]);

    expect((await state.stats()).head).toBe(stored[0]!.position);
    expect((await (await startProcess({ instanceId: "other" })).stats()).head).toBe(0);
  });

  it("never moves the checkpoint back", async () => {
    const state = await startProcess();
    await state.advance([], 20, NOW);

    await state.advance([], 10, NOW);

    expect(await state.checkpoint()).toBe(20);
  });

  it("does not bring back delivered jobs when a lagging process advances over the same events", async () => {
    const [a, b] = [await startProcess({ owner: "a" }), await startProcess({ owner: "b" })];
    await a.advance([job(3), job(5)], 5, NOW);
    const [first] = await a.claimDue(NOW, 1);
    await a.remove(first!.position);

    await b.advance([job(3), job(5), job(8)], 8, NOW);

    expect((await b.claimDue(NOW, 10)).map((j) => j.position)).toEqual([5, 8]);
    expect(await b.checkpoint()).toBe(8);
  });

  it("lets two processes claim disjoint jobs", async () => {
    const [a, b] = [await startProcess({ owner: "a" }), await startProcess({ owner: "b" })];
    await a.advance(Array.from({ length: 40 }, (_, i) => job(i + 1)), 40, NOW);

    const claimed: Record<string, number[]> = { a: [], b: [] };
    await Promise.all(
      Object.entries({ a, b }).map(async ([name, state]) => {
        for (;;) {
          const jobs = await state.claimDue(NOW, 3);
          if (jobs.length === 0) return;
          claimed[name]!.push(...jobs.map((j) => j.position));
        }
      }),
    );

    expect(claimed.a!.length).toBeGreaterThan(0);
    expect(claimed.b!.length).toBeGreaterThan(0);
    expect([...claimed.a!, ...claimed.b!].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it("claims only due jobs, earliest first, and not again while claimed", async () => {
    const state = await startProcess();
    await state.advance([job(1), job(2), job(3)], 3, NOW);
    await state.reschedule(1, 1, NOW + 60_000);
    await state.reschedule(2, 1, NOW - 10);

    expect((await state.claimDue(NOW, 10)).map((j) => j.position)).toEqual([2, 3]);
    expect(await state.claimDue(NOW, 10)).toEqual([]);
    expect((await state.claimDue(NOW + 60_000, 10)).map((j) => [j.position, j.attempts])).toEqual([[1, 1]]);
  });

  it("releases a claim on reschedule, so the job comes back when it is due", async () => {
    const state = await startProcess();
    await state.advance([job(1)], 1, NOW);
    await state.claimDue(NOW, 10);

    await state.reschedule(1, 1, NOW + 1000);

    expect(await state.claimDue(NOW + 999, 10)).toEqual([]);
    expect(await state.claimDue(NOW + 1000, 10)).toEqual([expect.objectContaining({ position: 1, attempts: 1, nextAttemptAt: NOW + 1000 })]);
  });

  it("lets another process take over a job whose lease ran out", async () => {
    const crashed = await startProcess({ owner: "crashed", leaseMs: 200 });
    const survivor = await startProcess({ owner: "survivor", leaseMs: 60_000 });
    await crashed.advance([job(1)], 1, NOW);
    expect(await crashed.claimDue(NOW, 10)).toHaveLength(1);
    expect(await survivor.claimDue(NOW, 10)).toEqual([]);

    await sleep(250);

    expect(await survivor.claimDue(NOW, 10)).toEqual([expect.objectContaining({ position: 1 })]);
    // The first owner's late outcome does not undo the takeover.
    await crashed.reschedule(1, 1, NOW);
    expect(await crashed.claimDue(NOW, 10)).toEqual([]);
    await survivor.remove(1);
    expect((await survivor.stats()).pending).toBe(0);
  });

  it("keeps latchkey instances apart", async () => {
    const one = await startProcess({ instanceId: "one" });
    const two = await startProcess({ instanceId: "two" });

    await one.advance([job(1)], 4, NOW);

    expect(await two.checkpoint()).toBe(0);
    expect(await two.claimDue(NOW, 10)).toEqual([]);
    expect(await one.claimDue(NOW, 10)).toHaveLength(1);
  });
});
