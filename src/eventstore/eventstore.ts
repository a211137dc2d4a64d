/**
 * The event store: the only truth latchkey keeps. Every change is an event
 * appended to an aggregate (a user, an organization, the instance) with a
 * per-aggregate sequence that starts at 1 and has no gaps. A global position
 * orders all events for readers that follow the stream.
 *
 * Implementations: SQLite (embedded default) and PostgreSQL.
 */

export interface AggregateRef {
  readonly type: string;
  readonly id: string;
}

export interface NewEvent {
  readonly type: string;
  readonly payload: Readonly<Record<string, unknown>>;
  /** id of the user (or "system") that caused the event */
  readonly editor: string;
}

/**
 * A unique value owned by an aggregate (a username in an organization, the
 * hash of an access token). Added and removed in the same transaction as the
 * events, so a value is never claimed twice.
 */
export interface UniqueConstraint {
  readonly kind: string;
  readonly value: string;
}

/**
 * A value that leads to aggregates without being unique (a user's email
 * address in an organization: several users may share it). Added and removed
 * in the same transaction as the events, so lookups never lag behind them.
 */
export interface Lookup {
  readonly kind: string;
  readonly value: string;
}

/**
 * Events for one aggregate, appended only if the aggregate's last sequence is
 * still `expectedSequence` (0 = the aggregate must not exist yet).
 */
export interface AggregateWrite {
  readonly aggregate: AggregateRef;
  readonly resourceOwner: string;
  readonly expectedSequence: number;
  readonly events: readonly NewEvent[];
  readonly addUnique?: readonly UniqueConstraint[];
  readonly removeUnique?: readonly UniqueConstraint[];
  /** lookup values that lead to this aggregate from now on (adding one it already has is a no-op) */
  readonly addLookup?: readonly Lookup[];
  /** lookup values that no longer lead to this aggregate; other aggregates keep theirs */
  readonly removeLookup?: readonly Lookup[];
  /** the aggregate's folded state at `expectedSequence`, stored with the events */
  readonly snapshot?: Snapshot;
}

/**
 * A write model's state folded up to `sequence`, serialized by the model
 * (see src/command/write_model.ts). The store keeps the newest per aggregate
 * and model; readers fold only the events after it.
 */
export interface Snapshot {
  /** the write model's name and version, e.g. "user@1" */
  readonly model: string;
  readonly sequence: number;
  readonly state: Uint8Array;
}

export interface StoredEvent {
  readonly position: number;
  readonly instanceId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly sequence: number;
  readonly type: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
  readonly resourceOwner: string;
  readonly editor: string;
}

/** An event of `write` as stored: at `position`, with its aggregate's `sequence`. */
export function storedEvent(write: AggregateWrite, event: NewEvent, sequence: number, position: number, instanceId: string, createdAt: Date): StoredEvent {
  return {
    position,
    instanceId,
    aggregateType: write.aggregate.type,
    aggregateId: write.aggregate.id,
    sequence,
    type: event.type,
    payload: event.payload,
    createdAt,
    resourceOwner: write.resourceOwner,
    editor: event.editor,
  };
}

export interface EventStore {
  /**
   * Appends all writes in one transaction: either every event is stored or
   * none. Resolves only after the transaction is committed.
   * @throws ConcurrencyError when an aggregate moved past its expected sequence
   * @throws UniqueConstraintError when a unique value is already taken
   */
  append(writes: readonly AggregateWrite[]): Promise<StoredEvent[]>;
  /**
   * The events of one aggregate with a sequence greater than `afterSequence`
   * (default 0: all of them), in sequence order ([] when there are none).
   */
  readAggregate(aggregate: AggregateRef, afterSequence?: number): Promise<StoredEvent[]>;
  /** The newest snapshot of the aggregate for this model ("name@version"), if one was stored. */
  readSnapshot(aggregate: AggregateRef, model: string): Promise<Snapshot | undefined>;
  /** Up to `limit` events with a position greater than `position`, in order. */
  readAfter(position: number, limit: number): Promise<StoredEvent[]>;
  /** The id of the aggregate that holds a unique value, if any. */
  findUnique(constraint: UniqueConstraint): Promise<string | undefined>;
  /**
   * The ids of every aggregate a lookup value leads to, in ascending order
   * ([] when none). Removals apply before additions within one write.
   */
  findLookup(lookup: Lookup): Promise<string[]>;
  /** Database reachable and migrations applied. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
  /**
   * Where the store knows of appends made by others sharing its writer (the
   * other threads of this process on one SQLite file): calls `listener` with
   * the aggregates they appended to, and their new last sequence, as each of
   * their commits is made. Appends of other processes are not reported.
   */
  watchOthers?(listener: (appended: readonly AggregateAt[]) => void): void;
}

/** An aggregate and its last sequence. */
export interface AggregateAt {
  readonly type: string;
  readonly id: string;
  readonly sequence: number;
}

export class ConcurrencyError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "EVENTSTORE-Cnc0f";
  constructor(
    readonly aggregate: AggregateRef,
    readonly expectedSequence: number,
    readonly actualSequence: number,
  ) {
    super(
      `aggregate ${aggregate.type}/${aggregate.id} is at sequence ${actualSequence}, expected ${expectedSequence}`,
    );
    this.name = "ConcurrencyError";
  }
}

export class UniqueConstraintError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "EVENTSTORE-Unq2c";
  constructor(readonly constraint: UniqueConstraint) {
    super(`unique value of kind ${constraint.kind} is already taken`);
    this.name = "UniqueConstraintError";
  }
}
