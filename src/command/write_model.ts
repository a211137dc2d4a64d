/**
 * A write model: the state a command decides on, folded from an aggregate's
 * events one at a time. Commands load it through Aggregates (aggregates.ts),
 * which keeps the folded state of recently used aggregates and a snapshot in
 * the store, so a command costs the same for a user with one event as for one
 * with a hundred thousand.
 */
import { deserialize, serialize } from "node:v8";
import type { StoredEvent } from "../eventstore/eventstore.js";

export interface WriteModel<S extends { sequence: number }> {
  /**
   * Names the model's snapshots. Raise `version` whenever `evolve` or the
   * state's shape changes: snapshots of another version are ignored, and the
   * state is folded again from the events.
   */
  readonly name: string;
  readonly version: number;
  initial(): S;
  /** Folds one event into the state without changing the state given; sets `sequence`. */
  evolve(state: S, event: StoredEvent): S;
}

export function foldWith<S extends { sequence: number }>(model: WriteModel<S>, events: readonly StoredEvent[], from: S = model.initial()): S {
  return events.reduce((state, event) => model.evolve(state, event), from);
}

export const snapshotName = (model: WriteModel<{ sequence: number }>): string => `${model.name}@${model.version}`;

/** States hold plain data, dates, sets and maps: the structured clone format keeps them all. */
export const encodeState = (state: unknown): Uint8Array => serialize(state);
export const decodeState = <S>(bytes: Uint8Array): S => deserialize(bytes) as S;
