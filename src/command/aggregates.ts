/**
 * How commands reach aggregates: one at a time per aggregate within this
 * process, on state folded once and then kept up to date.
 *
 * - Commands on the same aggregate queue here instead of failing their
 *   optimistic check over and over; other processes are still caught by it.
 * - The folded state of recently used aggregates stays in memory with its
 *   sequence. Loading reads only the events stored after it (usually none),
 *   so another process's appends are seen without replaying the history.
 * - Where the store reports appends of the other threads sharing its writer,
 *   kept state they moved past is not decided on: it is read first.
 * - On a miss the newest snapshot is read and only the events after it are
 *   folded. Every SNAPSHOT_EVERY events an append carries a fresh snapshot,
 *   stored in the same transaction.
 */
import { LRUCache } from "lru-cache";
import type { AggregateRef, EventStore, Snapshot, StoredEvent } from "../eventstore/eventstore.js";
import { decodeState, encodeState, foldWith, snapshotName, type WriteModel } from "./write_model.js";

/** events after the newest snapshot at which an append stores another */
export const SNAPSHOT_EVERY = 100;
/** aggregates whose folded state stays in memory */
const CACHED_STATES = 50_000;

interface Known {
  readonly state: { sequence: number };
  /** sequence of the newest snapshot in the store, as far as this process knows */
  readonly snapshotAt: number;
}

export class Aggregates {
  /**
   * Aggregates with a command under way here, each with the commands waiting for it.
   * Gains and loses an entry on nearly every command, so it holds only these small
   * queues: a table V8 leaves behind when it rehashes keeps what it held alive through
   * the next scavenges, and a promise here would reach a whole request's objects.
   */
  private readonly busy = new Map<string, (() => void)[]>();
  private readonly known = new LRUCache<string, Known>({ max: CACHED_STATES });
  /**
   * The last sequence of aggregates that other threads appended to, as the
   * store reported them. Losing an entry costs only a refused try (see execute).
   */
  private readonly othersAt = new LRUCache<string, number>({ max: CACHED_STATES });

  /**
   * @param options.decideOnKept whether commands may decide first on the kept
   * state (see execute): worth it where this process makes nearly all the
   * appends, or hears of the others' (the threads of one process on SQLite);
   * where others append to the same aggregates unheard (several instances on
   * PostgreSQL) that try mostly fails and costs a refused append, so commands
   * read first.
   */
  constructor(
    readonly store: EventStore,
    private readonly options: { decideOnKept?: boolean } = {},
  ) {
    if (options.decideOnKept) {
      store.watchOthers?.((appended) => {
        for (const { type, id, sequence } of appended) {
          const key = aggregateKey(type, id);
          if ((this.othersAt.get(key) ?? 0) < sequence) this.othersAt.set(key, sequence);
        }
      });
    }
  }

  /** Runs `work` after every earlier piece of work on the same aggregate in this process. */
  async serialize<T>(aggregate: AggregateRef, work: () => Promise<T>): Promise<T> {
    const key = `${aggregate.type}/${aggregate.id}`;
    let waiting = this.busy.get(key);
    if (waiting) await new Promise<void>((resolve) => waiting!.push(resolve));
    else this.busy.set(key, (waiting = []));
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else this.busy.delete(key);
    }
  }

  /**
   * The state kept in memory, without a look at the store: another process
   * may have appended since. Good for a decision whose append the store then
   * checks against the sequence (see execute).
   */
  cached<S extends { sequence: number }>(aggregate: AggregateRef, model: WriteModel<S>): S | undefined {
    if (!this.options.decideOnKept) return undefined;
    const kept = this.known.get(cacheKey(aggregate, model))?.state as S | undefined;
    if (kept && kept.sequence < (this.othersAt.peek(aggregateKey(aggregate.type, aggregate.id)) ?? 0)) return undefined;
    return kept;
  }

  /** The aggregate's current state under this model. */
  async load<S extends { sequence: number }>(aggregate: AggregateRef, model: WriteModel<S>): Promise<S> {
    const key = cacheKey(aggregate, model);
    let known = this.known.get(key) as { state: S; snapshotAt: number } | undefined;
    if (!known) {
      const snapshot = await this.store.readSnapshot(aggregate, snapshotName(model));
      known = snapshot ? { state: decodeState<S>(snapshot.state), snapshotAt: snapshot.sequence } : { state: model.initial(), snapshotAt: 0 };
    }
    const later = await this.store.readAggregate(aggregate, known.state.sequence);
    const state = foldWith(model, later, known.state);
    this.known.set(key, { state, snapshotAt: known.snapshotAt });
    return state;
  }

  /**
   * A snapshot of `state` for an append that follows it, when enough events
   * came since the last one. Recorded as stored only once the append commits
   * (see `appended`).
   */
  snapshotFor<S extends { sequence: number }>(aggregate: AggregateRef, model: WriteModel<S>, state: S): Snapshot | undefined {
    const snapshotAt = this.known.get(cacheKey(aggregate, model))?.snapshotAt ?? 0;
    if (state.sequence - snapshotAt < SNAPSHOT_EVERY) return undefined;
    return { model: snapshotName(model), sequence: state.sequence, state: encodeState(state) };
  }

  /** Folds what a command appended into the kept state. */
  appended<S extends { sequence: number }>(aggregate: AggregateRef, model: WriteModel<S>, before: S, stored: readonly StoredEvent[], snapshot?: Snapshot): void {
    const key = cacheKey(aggregate, model);
    const snapshotAt = snapshot?.sequence ?? this.known.get(key)?.snapshotAt ?? 0;
    this.known.set(key, { state: foldWith(model, stored, before), snapshotAt });
  }
}

const aggregateKey = (type: string, id: string) => `${type}\n${id}`;
const cacheKey = (aggregate: AggregateRef, model: WriteModel<{ sequence: number }>) => `${model.name}\n${aggregateKey(aggregate.type, aggregate.id)}`;
