/** Kept state, snapshots and the writer thread, on a real SQLite file. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Aggregates, SNAPSHOT_EVERY } from "../src/command/aggregates.js";
import { execute } from "../src/command/execute.js";
import { decodeState, encodeState, foldWith, snapshotName, type WriteModel } from "../src/command/write_model.js";
import type { StoredEvent } from "../src/eventstore/eventstore.js";
import { openSqliteEventStore, type SqliteEventStore } from "../src/eventstore/sqlite.js";

interface Counter {
  sequence: number;
  orgId: string;
  total: number;
}

const counter: WriteModel<Counter> = {
  name: "counter",
  version: 1,
  initial: () => ({ sequence: 0, orgId: "", total: 0 }),
  evolve: (state, event: StoredEvent) => ({
    sequence: event.sequence,
    orgId: event.resourceOwner,
    total: state.total + Number(event.payload["add"] ?? 0),
  }),
};

const ref = { type: "counter", id: "c1" };
const add = (n: number) => ({ events: [{ type: "counter.added", payload: { add: n }, editor: "test" }], resourceOwner: "org" });

let dir: string;
const stores: SqliteEventStore[] = [];

function open(): SqliteEventStore {
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-aggregates-"));
  const store = openSqliteEventStore({ file: path.join(dir, "latchkey.db") });
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined as unknown as string;
});

describe("snapshots", () => {
  it("are stored every SNAPSHOT_EVERY events, and a cold process folds only the events after the newest", async () => {
    const store = open();
    const aggregates = new Aggregates(store, { decideOnKept: true });
    const appends = 2 * SNAPSHOT_EVERY + 7;
    for (let i = 1; i <= appends; i++) await execute(aggregates, ref, counter, () => add(i));
    const snapshot = await store.readSnapshot(ref, snapshotName(counter));
    expect(snapshot?.sequence).toBe(2 * SNAPSHOT_EVERY);

    const cold = await new Aggregates(store).load(ref, counter);
    const replayed = foldWith(counter, await store.readAggregate(ref));
    expect(cold).toEqual(replayed);
    expect(cold.total).toBe((appends * (appends + 1)) / 2);

    // a marked snapshot shows that a cold load starts from it and folds only what came after
    const marked = { ...decodeState<Counter>(snapshot!.state), total: 1_000_000 };
    store.db.prepare("UPDATE snapshots SET state = ? WHERE aggregate_id = ?").run(Buffer.from(encodeState(marked)), ref.id);
    const fromSnapshot = await new Aggregates(store).load(ref, counter);
    const after = Array.from({ length: appends - 2 * SNAPSHOT_EVERY }, (_, i) => 2 * SNAPSHOT_EVERY + 1 + i);
    expect(fromSnapshot.total).toBe(1_000_000 + after.reduce((a, b) => a + b, 0));
  });

  it("of another version are ignored: the state is folded from the events", async () => {
    const store = open();
    const aggregates = new Aggregates(store);
    for (let i = 0; i < SNAPSHOT_EVERY + 1; i++) await execute(aggregates, ref, counter, () => add(1));
    const next = { ...counter, version: 2, evolve: (s: Counter, e: StoredEvent) => ({ ...counter.evolve(s, e), total: s.total + 10 }) };
    expect((await new Aggregates(store).load(ref, next)).total).toBe(10 * (SNAPSHOT_EVERY + 1));
  });
});

describe("kept state", () => {
  it("a decision on stale kept state is refused by the sequence check and made again on fresh state", async () => {
    const store = open();
    const mine = new Aggregates(store, { decideOnKept: true });
    const other = new Aggregates(store);
    await execute(mine, ref, counter, () => add(1));
    // another process appends: this one's kept state is now behind
    await execute(other, ref, counter, () => add(10));
    const seen: number[] = [];
    const { state, stored } = await execute(mine, ref, counter, (s) => {
      seen.push(s.sequence);
      return add(100);
    });
    expect(seen).toEqual([1, 2]);
    expect(state.total).toBe(11);
    expect(stored[0]!.sequence).toBe(3);
    expect((await mine.load(ref, counter)).total).toBe(111);
  });

  it("a refusal on kept state is decided again on fresh state before it reaches the caller", async () => {
    const store = open();
    const mine = new Aggregates(store, { decideOnKept: true });
    await execute(mine, ref, counter, () => add(1));
    await execute(new Aggregates(store), ref, counter, () => add(1));
    // refuses below 2: true of the kept state (1), not of the stored one (2)
    const result = await execute(mine, ref, counter, (s) => {
      if (s.total < 2) throw new Error("too small");
      return add(5);
    });
    expect(result.state.total).toBe(2);
  });
});

describe("the writer thread", () => {
  it("takes appends from another event store through a port, in one sequence with its own", async () => {
    const owner = open();
    const second = openSqliteEventStore({ file: path.join(dir, "latchkey.db"), writer: owner.writerPort() });
    stores.unshift(second);
    const aggregates = [new Aggregates(owner), new Aggregates(second)];
    for (let i = 0; i < 40; i++) await execute(aggregates[i % 2]!, ref, counter, () => add(1));
    expect((await owner.readAggregate(ref)).map((e) => e.sequence)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // at the same time from both, on other aggregates: one commit order, every position once
    const stored = await Promise.all(
      Array.from({ length: 40 }, (_, i) => execute(aggregates[i % 2]!, { type: "counter", id: `p${i}` }, counter, () => add(1))),
    );
    const positions = stored.map((r) => r.stored[0]!.position);
    expect(new Set(positions).size).toBe(40);
    expect(Math.min(...positions)).toBe(41);
    expect(Math.max(...positions)).toBe(80);
    await second.close();
    // the owner's writer keeps serving after another store let go of its port
    await expect(execute(aggregates[0]!, ref, counter, () => add(1))).resolves.toMatchObject({ stored: [{ sequence: 41 }] });
  });

  it("tells each thread's store what the others appended, so kept state they moved past is read before deciding", async () => {
    const owner = open();
    const second = openSqliteEventStore({ file: path.join(dir, "latchkey.db"), writer: owner.writerPort() });
    stores.unshift(second);
    const mine = new Aggregates(owner, { decideOnKept: true });
    const theirs = new Aggregates(second, { decideOnKept: true });
    await execute(mine, ref, counter, () => add(1));
    await execute(theirs, ref, counter, () => add(10));
    // its own append does not make a thread's kept state stale
    expect(theirs.cached(ref, counter)?.sequence).toBe(2);
    await vi.waitFor(() => expect(mine.cached(ref, counter)).toBeUndefined());

    const seen: number[] = [];
    const { stored } = await execute(mine, ref, counter, (s) => {
      seen.push(s.sequence);
      return add(100);
    });
    // one decision, on the state read from the store: no refused append on the way
    expect(seen).toEqual([2]);
    expect(stored[0]!.sequence).toBe(3);
    expect(mine.cached(ref, counter)?.total).toBe(111);
    await vi.waitFor(() => expect(theirs.cached(ref, counter)).toBeUndefined());
    // other aggregates of the other thread stay as kept
    await execute(theirs, { type: "counter", id: "c2" }, counter, () => add(1));
    expect(theirs.cached({ type: "counter", id: "c2" }, counter)?.sequence).toBe(1);
  });
});
