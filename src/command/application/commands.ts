/** Registering applications (see query/applications.ts for finding them). */
import { randomInt } from "node:crypto";
import { newId } from "../../crypto/ids.js";
import type { Aggregates } from "../aggregates.js";
import { execute } from "../execute.js";
import { readDefaultOrgId } from "../instance.js";
import { decideAddApplication, normalizeOrigin } from "./decide.js";
import { APPLICATION_AGGREGATE, applicationModel } from "./events.js";

export const clientIdConstraint = (clientId: string) => ({ kind: "client_id", value: clientId });
export const originLookup = (origin: string) => ({ kind: "origin", value: origin });

const CLIENT_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 32 characters from A-Z, a-z, 0-9, the shape of Auth0's client ids. */
export function newClientId(): string {
  return Array.from({ length: 32 }, () => CLIENT_ID_ALPHABET[randomInt(CLIENT_ID_ALPHABET.length)]).join("");
}

/** Registers an application; returns its client id. */
export async function addApplication(aggregates: Aggregates, input: { name: string; origins: readonly string[] }): Promise<string> {
  const clientId = newClientId();
  const origins = [...new Set(input.origins.map(normalizeOrigin))];
  const resourceOwner = await readDefaultOrgId(aggregates.store);
  await execute(aggregates, { type: APPLICATION_AGGREGATE, id: newId() }, applicationModel, (state) => ({
    events: decideAddApplication(state, { name: input.name, clientId, origins }),
    resourceOwner,
    addUnique: [clientIdConstraint(clientId)],
    addLookup: origins.map(originLookup),
  }));
  return clientId;
}
