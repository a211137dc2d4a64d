/** A user's history for tests of the pure rules: events as the store would hand them out. */
import type { StoredEvent } from "../../src/eventstore/eventstore.js";

export interface GivenEvent {
  type: string;
  payload?: Record<string, unknown>;
  editor?: string;
}

export interface History {
  userId: string;
  orgId: string;
  /** time of the first event (Unix ms) */
  startAt: number;
  /** time between events */
  stepMs: number;
  /** editor of events that name none */
  editor: string;
  /** position of the first event */
  firstPosition?: number;
}

export function storedUserEvents(events: readonly GivenEvent[], history: History): StoredEvent[] {
  return events.map((e, i) => ({
    position: (history.firstPosition ?? 1) + i,
    instanceId: "default",
    aggregateType: "user",
    aggregateId: history.userId,
    sequence: i + 1,
    type: e.type,
    payload: e.payload ?? {},
    createdAt: new Date(history.startAt + i * history.stepMs),
    resourceOwner: history.orgId,
    editor: e.editor ?? history.editor,
  }));
}
