import type { StoredEvent } from "../../eventstore/eventstore.js";

export const ORG_AGGREGATE = "org";

export const OrgEvents = {
  added: "org.added",
} as const;

export interface OrgAddedPayload {
  name: string;
}

export interface OrgState {
  exists: boolean;
  orgId: string;
  name: string;
  sequence: number;
}

export function foldOrg(events: readonly StoredEvent[]): OrgState {
  let state: OrgState = { exists: false, orgId: "", name: "", sequence: 0 };
  for (const event of events) {
    state = { ...state, sequence: event.sequence };
    if (event.type === OrgEvents.added) {
      const { name } = event.payload as unknown as OrgAddedPayload;
      state = { ...state, exists: true, orgId: event.aggregateId, name };
    }
  }
  return state;
}
