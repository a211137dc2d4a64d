import {
  ConcurrencyError,
  type AggregateRef,
  type EventStore,
  type Lookup,
  type NewEvent,
  type StoredEvent,
  type UniqueConstraint,
} from "../eventstore/eventstore.js";
import { unavailable } from "../errors/errors.js";
import type { AggregateLocks } from "./aggregate_lock.js";

export interface Decision {
  events: NewEvent[];
  /** organization that owns the aggregate; needed when it is created */
  resourceOwner?: string;
  addUnique?: UniqueConstraint[];
  removeUnique?: UniqueConstraint[];
  addLookup?: Lookup[];
  removeLookup?: Lookup[];
}

export interface Executed<S> {
  /** state before the command */
  state: S;
  stored: StoredEvent[];
}

const MAX_ATTEMPTS = 10;

/**
 * Load, decide, append; on a concurrent change by another process, decide
 * again on fresh state. The decision function must be pure. A decision
 * without events appends nothing (stored is empty).
 */
export async function execute<S extends { sequence: number; orgId: string }>(
  store: EventStore,
  locks: AggregateLocks,
  aggregate: AggregateRef,
  fold: (events: readonly StoredEvent[]) => S,
  decide: (state: S) => Decision,
): Promise<Executed<S>> {
  return locks.run(`${aggregate.type}/${aggregate.id}`, async () => {
    for (let attempt = 1; ; attempt++) {
      const state = fold(await store.readAggregate(aggregate));
      const decision = decide(state);
      // a decision that changes nothing reads but does not write
      if (decision.events.length === 0) return { state, stored: [] };
      try {
        const stored = await store.append([
          {
            aggregate,
            resourceOwner: decision.resourceOwner ?? state.orgId,
            expectedSequence: state.sequence,
            events: decision.events,
            ...(decision.addUnique && { addUnique: decision.addUnique }),
            ...(decision.removeUnique && { removeUnique: decision.removeUnique }),
            ...(decision.addLookup && { addLookup: decision.addLookup }),
            ...(decision.removeLookup && { removeLookup: decision.removeLookup }),
          },
        ]);
        return { state, stored };
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        if (attempt >= MAX_ATTEMPTS) {
          throw unavailable("COMMAND-r3Tr1", "Errors.Internal.Contention", "Too many concurrent changes, try again");
        }
      }
    }
  });
}
