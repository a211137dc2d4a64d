import { readDefaultOrgId } from "../command/instance.js";
import { DEFAULT_CONNECTION, connectionConstraint, connectionNameOf } from "../command/org/connection.js";
import { ORG_AGGREGATE, foldOrg, type OrgState } from "../command/org/events.js";
import type { EventStore } from "../eventstore/eventstore.js";

/** The organization a connection name leads to, if any. */
export async function findConnection(store: EventStore, name: string): Promise<OrgState | undefined> {
  const defaultOrgId = await readDefaultOrgId(store);
  const orgId = (await store.findUnique(connectionConstraint(name))) ?? (name === DEFAULT_CONNECTION ? defaultOrgId : undefined);
  if (orgId === undefined) return undefined;
  const org = foldOrg(await store.readAggregate({ type: ORG_AGGREGATE, id: orgId }));
  return org.exists && connectionNameOf(org, orgId === defaultOrgId) === name ? org : undefined;
}
