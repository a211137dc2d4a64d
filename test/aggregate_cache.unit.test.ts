import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../src/eventstore/eventstore.js";
import { AggregateCache } from "../src/eventstore/aggregate_cache.js";

const ev = (sequence: number): StoredEvent => ({
  position: sequence,
  instanceId: "i",
  aggregateType: "user",
  aggregateId: "u",
  sequence,
  type: "t",
  payload: {},
  createdAt: new Date(0),
  resourceOwner: "o",
  editor: "e",
});
const seqs = (events: readonly StoredEvent[] | undefined) => events?.map((e) => e.sequence);

describe("AggregateCache", () => {
  it("starts an entry at sequence 1 and extends it with the next sequences only", () => {
    const cache = new AggregateCache(100);
    cache.extend("a", [ev(2)]);
    expect(cache.get("a")).toBeUndefined();
    cache.extend("a", [ev(1), ev(2)]);
    cache.extend("a", [ev(3)]);
    expect(seqs(cache.get("a"))).toEqual([1, 2, 3]);
    cache.extend("a", [ev(5)]);
    expect(cache.get("a")).toBeUndefined();
  });

  it("drops the least recently used aggregates beyond its size", () => {
    const cache = new AggregateCache(4);
    cache.extend("a", [ev(1), ev(2)]);
    cache.extend("b", [ev(1), ev(2)]);
    cache.get("a");
    cache.extend("c", [ev(1)]);
    expect(seqs(cache.get("b"))).toBeUndefined();
    expect(seqs(cache.get("a"))).toEqual([1, 2]);
    expect(seqs(cache.get("c"))).toEqual([1]);
  });
});
