import type { StoredEvent } from "../../eventstore/eventstore.js";
import type { LockoutPolicy } from "../lockout_policy.js";
import type { PasswordPolicy } from "../password_policy.js";
import { foldWith, type WriteModel } from "../write_model.js";
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

/** Folds one event into the organization's state. */
export function evolveOrg(before: OrgState, event: StoredEvent): OrgState {
  const state: OrgState = { ...before, sequence: event.sequence };
  switch (event.type) {
    case OrgEvents.added: {
      const { name } = event.payload as unknown as OrgAddedPayload;
      return { ...state, exists: true, orgId: event.aggregateId, name };
    }
    case OrgEvents.passwordPolicyAdded:
    case OrgEvents.passwordPolicyChanged: {
      const p = event.payload as unknown as PasswordPolicyPayload;
      return {
        ...state,
        passwordPolicy: {
          minLength: p.minLength,
          hasUppercase: p.hasUppercase,
          hasLowercase: p.hasLowercase,
          hasNumber: p.hasNumber,
          hasSymbol: p.hasSymbol,
        },
      };
    }
    case OrgEvents.lockoutPolicyAdded:
    case OrgEvents.lockoutPolicyChanged: {
      const p = event.payload as unknown as LockoutPolicyPayload;
      return { ...state, lockoutPolicy: { maxPasswordAttempts: p.maxPasswordAttempts } };
    }
    case OrgEvents.passwordRulesSet: {
      // fields added later read as their default
      const p = event.payload as unknown as Partial<PasswordRulesPolicy>;
      return { ...state, passwordRules: { ...DEFAULT_PASSWORD_RULES, ...p, words: [...(p.words ?? [])] } };
    }
    case OrgEvents.connectionSet: {
      const { name } = event.payload as unknown as ConnectionSetPayload;
      return { ...state, connectionName: name };
    }
    default:
      return state;
  }
}

export const orgModel: WriteModel<OrgState> = {
  name: "org",
  version: 2,
  initial: () => ({ exists: false, orgId: "", name: "", sequence: 0 }),
  evolve: evolveOrg,
};

export function foldOrg(events: readonly StoredEvent[]): OrgState {
  return foldWith(orgModel, events);
}
