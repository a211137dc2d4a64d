/** Reading and setting an organization's password policy. */
import { notFound } from "../../errors/errors.js";
import type { EventStore } from "../../eventstore/eventstore.js";
import { AggregateLocks } from "../aggregate_lock.js";
import { execute } from "../execute.js";
import { DEFAULT_PASSWORD_POLICY, checkPolicy, type PasswordPolicy } from "../password_policy.js";
import { ORG_AGGREGATE, OrgEvents, foldOrg } from "./events.js";

/** The policy that applies to the organization's users: its own, or the instance default. */
export async function readPasswordPolicy(store: EventStore, orgId: string): Promise<PasswordPolicy> {
  if (orgId === "") return DEFAULT_PASSWORD_POLICY;
  const org = foldOrg(await store.readAggregate({ type: ORG_AGGREGATE, id: orgId }));
  return org.passwordPolicy ?? DEFAULT_PASSWORD_POLICY;
}

/** Replaces the organization's policy as a whole (an operator command). */
export async function setPasswordPolicy(store: EventStore, orgId: string, policy: PasswordPolicy): Promise<void> {
  checkPolicy(policy);
  await execute(store, new AggregateLocks(), { type: ORG_AGGREGATE, id: orgId }, foldOrg, (org) => {
    if (!org.exists) throw notFound("POLICY-0rg7n", "Errors.Org.NotFound", "Organization could not be found");
    const type = org.passwordPolicy ? OrgEvents.passwordPolicyChanged : OrgEvents.passwordPolicyAdded;
    return { events: [{ type, payload: { ...policy }, editor: "system" }] };
  });
}
