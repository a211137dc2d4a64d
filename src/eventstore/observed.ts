import { ConcurrencyError, type EventStore } from "./eventstore.js";

/** What an observer of appends hears: each append's time, failed ones included, and each concurrency conflict. */
export interface AppendObserver {
  onAppend(seconds: number): void;
  onConflict(): void;
}

/** The same store, telling the observer of every append. */
export function observeAppends(store: EventStore, observer: AppendObserver): EventStore {
  return {
    async append(writes) {
      const started = performance.now();
      try {
        return await store.append(writes);
      } catch (err) {
        if (err instanceof ConcurrencyError) observer.onConflict();
        throw err;
      } finally {
        observer.onAppend((performance.now() - started) / 1000);
      }
    },
    readAggregate: (aggregate, afterSequence) => store.readAggregate(aggregate, afterSequence),
    readSnapshot: (aggregate, model) => store.readSnapshot(aggregate, model),
    readAfter: (position, limit) => store.readAfter(position, limit),
    findUnique: (constraint) => store.findUnique(constraint),
    findLookup: (lookup) => store.findLookup(lookup),
    ready: () => store.ready(),
    close: () => store.close(),
    ...(store.watchOthers && { watchOthers: store.watchOthers.bind(store) }),
  };
}
