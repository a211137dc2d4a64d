/** Registering applications and finding them by client id or allowed origin. */
import { randomInt } from "node:crypto";
import { newId } from "../../crypto/ids.js";
import type { EventStore } from "../../eventstore/eventstore.js";
import { Aggregates } from "../aggregates.js";
import { execute } from "../execute.js";
import { readDefaultOrgId } from "../instance.js";
import { decideAddApplication, normalizeOrigin } from "./decide.js";
import { APPLICATION_AGGREGATE, applicationModel, foldApplication, type ApplicationState } from "./events.js";

const clientIdConstraint = (clientId: string) => ({ kind: "client_id", value: clientId });
const originLookup = (origin: string) => ({ kind: "origin", value: origin });

const CLIENT_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 32 characters from A-Z, a-z, 0-9, the shape of Auth0's client ids. */
export function newClientId(): string {
  return Array.from({ length: 32 }, () => CLIENT_ID_ALPHABET[randomInt(CLIENT_ID_ALPHABET.length)]).join("");
}

/** Registers an application; returns its client id. */
export async function addApplication(store: EventStore, input: { name: string; origins: readonly string[] }): Promise<string> {
  const clientId = newClientId();
  const origins = [...new Set(input.origins.map(normalizeOrigin))];
  const resourceOwner = await readDefaultOrgId(store);
  await execute(new Aggregates(store), { type: APPLICATION_AGGREGATE, id: newId() }, applicationModel, (state) => ({
    events: decideAddApplication(state, { name: input.name, clientId, origins }),
    resourceOwner,
    addUnique: [clientIdConstraint(clientId)],
    addLookup: origins.map(originLookup),
  }));
  return clientId;
}

export async function findApplication(store: EventStore, clientId: string): Promise<ApplicationState | undefined> {
  const id = await store.findUnique(clientIdConstraint(clientId));
  if (id === undefined) return undefined;
  const app = foldApplication(await store.readAggregate({ type: APPLICATION_AGGREGATE, id }));
  return app.exists ? app : undefined;
}

/** Whether any application allows this browser origin (asked by preflight requests, which name no client). */
export async function anyApplicationAllows(store: EventStore, origin: string): Promise<boolean> {
  return (await store.findLookup(originLookup(origin))).length > 0;
}
