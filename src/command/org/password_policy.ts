/** Reading and setting an organization's password policies: complexity, lockout and the further rules. */
import { notFound } from "../../errors/errors.js";
import type { NewEvent } from "../../eventstore/eventstore.js";
import type { Aggregates } from "../aggregates.js";
import { execute } from "../execute.js";
import { DEFAULT_LOCKOUT_POLICY, checkLockoutPolicy, type LockoutPolicy } from "../lockout_policy.js";
import { DEFAULT_PASSWORD_POLICY, checkPolicy, type PasswordPolicy } from "../password_policy.js";
import { DEFAULT_PASSWORD_RULES, checkRulesPolicy, type PasswordRulesPolicy } from "../password_rules/policy.js";
import { ORG_AGGREGATE, OrgEvents, orgModel, type OrgState } from "./events.js";

/** What applies to an organization's users' passwords. */
export interface PasswordPolicies {
  complexity: PasswordPolicy;
  lockout: LockoutPolicy;
  rules: PasswordRulesPolicy;
}

/** The policies that apply to the organization's users: its own, or the instance defaults. */
export async function readPasswordPolicies(aggregates: Aggregates, orgId: string): Promise<PasswordPolicies> {
  const org: Partial<OrgState> = orgId === "" ? {} : await aggregates.load({ type: ORG_AGGREGATE, id: orgId }, orgModel);
  return {
    complexity: org.passwordPolicy ?? DEFAULT_PASSWORD_POLICY,
    lockout: org.lockoutPolicy ?? DEFAULT_LOCKOUT_POLICY,
    rules: org.passwordRules ?? DEFAULT_PASSWORD_RULES,
  };
}

/** Replaces the organization's complexity policy as a whole (an operator command). */
export async function setPasswordPolicy(aggregates: Aggregates, orgId: string, policy: PasswordPolicy): Promise<void> {
  await setPasswordPolicies(aggregates, orgId, { complexity: policy });
}

/** Replaces the organization's policies given, each as a whole, in one append (an operator command). */
export async function setPasswordPolicies(aggregates: Aggregates, orgId: string, policies: Partial<PasswordPolicies>): Promise<void> {
  await execute(aggregates, { type: ORG_AGGREGATE, id: orgId }, orgModel, (org) => ({ events: decideSetPolicies(org, policies) }));
}

/** Each policy given is checked, then replaces the organization's own (added the first time, changed after). */
export function decideSetPolicies(org: OrgState, policies: Partial<PasswordPolicies>): NewEvent[] {
  if (policies.complexity) checkPolicy(policies.complexity);
  if (policies.lockout) checkLockoutPolicy(policies.lockout);
  if (policies.rules) checkRulesPolicy(policies.rules);
  if (!org.exists) throw notFound("POLICY-0rg7n", "Errors.Org.NotFound", "Organization could not be found");
  const events: NewEvent[] = [];
  if (policies.complexity) {
    const type = org.passwordPolicy ? OrgEvents.passwordPolicyChanged : OrgEvents.passwordPolicyAdded;
    events.push({ type, payload: { ...policies.complexity }, editor: "system" });
  }
  if (policies.lockout) {
    const type = org.lockoutPolicy ? OrgEvents.lockoutPolicyChanged : OrgEvents.lockoutPolicyAdded;
    events.push({ type, payload: { maxPasswordAttempts: policies.lockout.maxPasswordAttempts }, editor: "system" });
  }
  if (policies.rules) {
    events.push({ type: OrgEvents.passwordRulesSet, payload: { ...policies.rules, words: [...policies.rules.words] }, editor: "system" });
  }
  return events;
}
