/** Events of the application aggregate: an app registered for Auth0-compatible calls. */
import type { StoredEvent } from "../../eventstore/eventstore.js";
import { foldWith, type WriteModel } from "../write_model.js";

export const APPLICATION_AGGREGATE = "application";

export const ApplicationEvents = {
  added: "application.added",
} as const;

export interface ApplicationAddedPayload {
  name: string;
  clientId: string;
  /** browser origins allowed to call on its behalf, e.g. "https://app.example.com" */
  origins: string[];
}

export interface ApplicationState {
  exists: boolean;
  id: string;
  name: string;
  clientId: string;
  origins: string[];
  /** the default organization, which owns every application */
  orgId: string;
  sequence: number;
}

export const applicationModel: WriteModel<ApplicationState> = {
  name: "application",
  version: 1,
  initial: () => ({ exists: false, id: "", name: "", clientId: "", origins: [], orgId: "", sequence: 0 }),
  evolve(before, event) {
    const state = { ...before, sequence: event.sequence };
    if (event.type !== ApplicationEvents.added) return state;
    const { name, clientId, origins } = event.payload as unknown as ApplicationAddedPayload;
    return { ...state, exists: true, id: event.aggregateId, name, clientId, origins, orgId: event.resourceOwner };
  },
};

export function foldApplication(events: readonly StoredEvent[]): ApplicationState {
  return foldWith(applicationModel, events);
}
