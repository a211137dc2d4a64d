import { setTimeout } from "node:timers/promises";
import {
  ConcurrencyError,
  type AggregateRef,
  type Lookup,
  type NewEvent,
  type StoredEvent,
  type UniqueConstraint,
} from "../eventstore/eventstore.js";
import { unavailable } from "../errors/errors.js";
import type { Aggregates } from "./aggregates.js";
import type { WriteModel } from "./write_model.js";

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
/** the most a retry waits, ms; the waits of 10 attempts add up to about half a second at most */
const MAX_BACKOFF_MS = 100;

/**
 * How long to wait before attempt `attempt + 1`: a random time up to a ceiling
 * that doubles with each lost race. Without it, a process that must read
 * before each try loses every race to one that decides on its kept state,
 * for as long as that one has calls queued for the aggregate.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return random() * Math.min(2 ** attempt, MAX_BACKOFF_MS);
}

/**
 * Load, decide, append; on a concurrent change by another process, wait a
 * little (backoffMs) and decide again on fresh state. The decision function
 * must be pure. A decision without events appends nothing (stored is empty).
 *
 * The first decision is made on the state kept in memory, without reading
 * the store: when it appends, the store's sequence check proves the state
 * was current. A decision on kept state that appends nothing or refuses is
 * not proven so, and is made again on state read from the store.
 */
export async function execute<S extends { sequence: number; orgId: string }>(
  aggregates: Aggregates,
  aggregate: AggregateRef,
  model: WriteModel<S>,
  decide: (state: S) => Decision,
): Promise<Executed<S>> {
  return aggregates.serialize(aggregate, async () => {
    // the try on kept state comes on top of the attempts on state read from the store
    let kept = aggregates.cached(aggregate, model);
    for (let attempt = kept ? 0 : 1; ; attempt++, kept = undefined) {
      const state = kept ?? (await aggregates.load(aggregate, model));
      let decision: Decision;
      try {
        decision = decide(state);
      } catch (err) {
        if (kept) continue;
        throw err;
      }
      // a decision that changes nothing reads but does not write
      if (decision.events.length === 0) {
        if (kept) continue;
        return { state, stored: [] };
      }
      const snapshot = aggregates.snapshotFor(aggregate, model, state);
      try {
        const stored = await aggregates.store.append([
          {
            aggregate,
            resourceOwner: decision.resourceOwner ?? state.orgId,
            expectedSequence: state.sequence,
            events: decision.events,
            ...(decision.addUnique && { addUnique: decision.addUnique }),
            ...(decision.removeUnique && { removeUnique: decision.removeUnique }),
            ...(decision.addLookup && { addLookup: decision.addLookup }),
            ...(decision.removeLookup && { removeLookup: decision.removeLookup }),
            ...(snapshot && { snapshot }),
          },
        ]);
        aggregates.appended(aggregate, model, state, stored, snapshot);
        return { state, stored };
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        if (attempt >= MAX_ATTEMPTS) {
          throw unavailable("COMMAND-r3Tr1", "Errors.Internal.Contention", "Too many concurrent changes, try again");
        }
        await setTimeout(backoffMs(attempt));
      }
    }
  });
}
