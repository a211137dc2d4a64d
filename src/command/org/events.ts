import type { StoredEvent } from "../../eventstore/eventstore.js";
import type { LockoutPolicy } from "../lockout_policy.js";
import type { PasswordPolicy } from "../password_policy.js";
import { DEFAULT_PASSWORD_RULES, type PasswordRulesPolicy } from "../password_rules/policy.js";

export const ORG_AGGREGATE = "org";

export const OrgEvents = {
  added: "org.added",
  passwordPolicyAdded: "org.policy.password.complexity.added",
  passwordPolicyChanged: "org.policy.password.complexity.changed",
  lockoutPolicyAdded: "org.policy.lockout.added",
  lockoutPolicyChanged: "org.policy.lockout.changed",
  connectionSet: "org.connection.set",
  /** carries the whole rules policy (see password_rules/policy) */
  passwordRulesSet: "org.policy.password.rules.set",
} as const;

export interface OrgAddedPayload {
  name: string;
}

/** The name of the organization's user store, as Auth0 calls it a connection. */
export interface ConnectionSetPayload {
  name: string;
}

/** Both policy events carry the whole policy. */
export type PasswordPolicyPayload = PasswordPolicy;
export type LockoutPolicyPayload = LockoutPolicy;

export interface OrgState {
  exists: boolean;
  orgId: string;
  name: string;
  sequence: number;
  /** the organization's own policy; absent: the instance default applies */
  passwordPolicy?: PasswordPolicy;
  /** the organization's own lockout policy; absent: the instance default applies */
  lockoutPolicy?: LockoutPolicy;
  /** the organization's own password rules; absent: the instance default applies */
  passwordRules?: PasswordRulesPolicy;
  /** the connection name it was given; absent: see connectionNameOf */
  connectionName?: string;
}

export function foldOrg(events: readonly StoredEvent[]): OrgState {
  let state: OrgState = { exists: false, orgId: "", name: "", sequence: 0 };
  for (const event of events) {
    state = { ...state, sequence: event.sequence };
    switch (event.type) {
      case OrgEvents.added: {
        const { name } = event.payload as unknown as OrgAddedPayload;
        state = { ...state, exists: true, orgId: event.aggregateId, name };
        break;
      }
      case OrgEvents.passwordPolicyAdded:
      case OrgEvents.passwordPolicyChanged: {
        const p = event.payload as unknown as PasswordPolicyPayload;
        state = {
          ...state,
          passwordPolicy: {
            minLength: p.minLength,
            hasUppercase: p.hasUppercase,
            hasLowercase: p.hasLowercase,
            hasNumber: p.hasNumber,
            hasSymbol: p.hasSymbol,
          },
        };
        break;
      }
      case OrgEvents.lockoutPolicyAdded:
      case OrgEvents.lockoutPolicyChanged: {
        const p = event.payload as unknown as LockoutPolicyPayload;
        state = { ...state, lockoutPolicy: { maxPasswordAttempts: p.maxPasswordAttempts } };
        break;
      }
      case OrgEvents.passwordRulesSet: {
        // fields added later read as their default
        const p = event.payload as unknown as Partial<PasswordRulesPolicy>;
        state = { ...state, passwordRules: { ...DEFAULT_PASSWORD_RULES, ...p, words: [...(p.words ?? [])] } };
        break;
      }
      case OrgEvents.connectionSet: {
        const { name } = event.payload as unknown as ConnectionSetPayload;
        state = { ...state, connectionName: name };
        break;
      }
    }
  }
  return state;
}
