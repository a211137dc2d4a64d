/**
 * An organization's connection: the name its user store answers to in
 * Auth0-compatible calls. Each name leads to one organization; the default
 * organization answers to Auth0's default name until it is given another.
 */
import { alreadyExists, invalidArgument, notFound } from "../../errors/errors.js";
import { UniqueConstraintError } from "../../eventstore/eventstore.js";
import type { Aggregates } from "../aggregates.js";
import { execute, type Decision } from "../execute.js";
import { readDefaultOrgId } from "../instance.js";
import { ORG_AGGREGATE, OrgEvents, orgModel, type OrgState } from "./events.js";

/** The name of Auth0's default database connection. */
export const DEFAULT_CONNECTION = "Username-Password-Authentication";

export const connectionConstraint = (name: string) => ({ kind: "connection", value: name });

/** Auth0's rule: letters, digits and hyphens inside, at most 35 characters. */
const CONNECTION_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,33}[A-Za-z0-9])?$/;

export function checkConnectionName(name: string): void {
  if (!CONNECTION_NAME.test(name)) {
    throw invalidArgument(
      "CONNECTION-N4m3x",
      "Errors.Connection.InvalidName",
      "A connection name has 1 to 35 letters, digits or hyphens, and starts and ends with a letter or digit",
    );
  }
}

/** The connection name an organization answers to, if any. */
export function connectionNameOf(org: OrgState, isDefaultOrg: boolean): string | undefined {
  return org.connectionName ?? (isDefaultOrg ? DEFAULT_CONNECTION : undefined);
}

export function decideSetConnection(org: OrgState, name: string, isDefaultOrg: boolean): Decision {
  if (!org.exists) throw notFound("CONNECTION-0rg4n", "Errors.Org.NotFound", "Organization could not be found");
  checkConnectionName(name);
  if (name === DEFAULT_CONNECTION && !isDefaultOrg) {
    throw alreadyExists("CONNECTION-D3f4u", "Errors.Connection.Reserved", `The name ${DEFAULT_CONNECTION} belongs to the default organization`);
  }
  if (org.connectionName === name) return { events: [] };
  return {
    events: [{ type: OrgEvents.connectionSet, payload: { name }, editor: "system" }],
    addUnique: [connectionConstraint(name)],
    removeUnique: org.connectionName === undefined ? [] : [connectionConstraint(org.connectionName)],
  };
}

/** Gives an organization its connection name (an operator command). */
export async function setConnectionName(aggregates: Aggregates, orgId: string, name: string): Promise<void> {
  const isDefaultOrg = orgId === (await readDefaultOrgId(aggregates.store));
  try {
    await execute(aggregates, { type: ORG_AGGREGATE, id: orgId }, orgModel, (org) => decideSetConnection(org, name, isDefaultOrg));
  } catch (err) {
    if (err instanceof UniqueConstraintError) {
      throw alreadyExists("CONNECTION-T4k3n", "Errors.Connection.AlreadyExists", "Another organization already has this connection name");
    }
    throw err;
  }
}
