import { ConcurrencyError, type EventStore } from "../eventstore/eventstore.js";
import type { Metrics } from "./metrics.js";

/** The same store, with the time of each append and the concurrency conflicts counted. */
export function instrumentEventStore(store: EventStore, metrics: Pick<Metrics, "appendDuration" | "concurrencyConflicts">): EventStore {
  const { appendDuration, concurrencyConflicts } = metrics;
  return {
    async append(writes) {
      const started = performance.now();
      try {
        return await store.append(writes);
      } catch (err) {
        if (err instanceof ConcurrencyError) concurrencyConflicts.inc();
        throw err;
      } finally {
        appendDuration.observe((performance.now() - started) / 1000);
      }
    },
    readAggregate: (aggregate, afterSequence) => store.readAggregate(aggregate, afterSequence),
    readSnapshot: (aggregate, model) => store.readSnapshot(aggregate, model),
    readAfter: (position, limit) => store.readAfter(position, limit),
    findUnique: (constraint) => store.findUnique(constraint),
    findLookup: (lookup) => store.findLookup(lookup),
    ready: () => store.ready(),
    close: () => store.close(),
  };
}
