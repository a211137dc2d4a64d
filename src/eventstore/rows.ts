/**
 * An `events` row as the drivers return it, and the one mapping to a
 * StoredEvent. SQLite gives numbers and the payload as JSON text; pg gives
 * bigint columns as text, jsonb as an object and timestamptz as a Date.
 */
import type { StoredEvent } from "./eventstore.js";

export const EVENT_COLUMNS = "position, instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor";

export interface EventRow {
  position: number | string;
  instance_id: string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  event_type: string;
  payload: string | Record<string, unknown>;
  created_at: number | Date;
  resource_owner: string;
  editor: string;
}

/** A row of the SQLite file, where every column is a number or text. */
export interface SqliteEventRow extends EventRow {
  position: number;
  payload: string;
  created_at: number;
}

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    position: Number(row.position),
    instanceId: row.instance_id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    sequence: row.sequence,
    type: row.event_type,
    payload: typeof row.payload === "string" ? (JSON.parse(row.payload) as Record<string, unknown>) : row.payload,
    createdAt: new Date(row.created_at),
    resourceOwner: row.resource_owner,
    editor: row.editor,
  };
}
