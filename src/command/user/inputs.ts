/** What callers hand the user commands, and the keys a user is found by. */
import type { RequestOrigin } from "../../http/origin.js";
import type { PasswordPolicy } from "../password_policy.js";
import type { PasswordRulesPolicy } from "../password_rules/policy.js";
import type { Principal } from "../permissions.js";
import { USER_AGGREGATE, type HumanProfile, type NotificationMedium } from "./events.js";

export const userRef = (id: string) => ({ type: USER_AGGREGATE, id });

export function usernameConstraint(orgId: string, username: string) {
  return { kind: "username", value: `${orgId}:${username.toLowerCase()}` };
}

/**
 * Leads from an email address in an organization to its users. Only ASCII
 * letters are lowercased, as SQLite's lower() does in the migration that
 * filled the lookup for users created before it.
 */
export function emailLookup(orgId: string, address: string) {
  return { kind: "email", value: `${orgId}:${address.replace(/[A-Z]+/g, (s) => s.toLowerCase())}` };
}

export interface AddHumanInput {
  userId?: string;
  username?: string;
  orgId?: string;
  orgDomain?: string;
  profile: HumanProfile;
  email: { address: string; verified: boolean };
  phone?: { number: string; verified: boolean };
  password?: { password: string; changeRequired: boolean };
}

export type ResetMedium =
  /** email with the hosted page's link; `linkParams` are added to the link's query */
  | { kind: "default"; linkParams?: Readonly<Record<string, string>> }
  | { kind: "link"; medium: NotificationMedium; urlTemplate?: string }
  | { kind: "return" };

/** How the caller proves it may set the password (see decideSetPassword). */
export type SetPasswordVerification =
  | { kind: "code"; code: string }
  /** the caller needs user.write on the user as well */
  | { kind: "currentPassword"; password: string; principal: Principal }
  | { kind: "permission"; principal: Principal };

/** What the hosted page may show for a reset link. */
export type ResetLink =
  | { kind: "valid"; policy: PasswordPolicy; rules: PasswordRulesPolicy }
  /** the code is right, but the user is locked */
  | { kind: "locked" }
  /** unknown user, no code pending, expired, invalidated or wrong: all alike */
  | { kind: "invalid" };

/** Who sent a SetPassword request and from where, for the events it causes. */
export interface SetPasswordRequest {
  origin?: RequestOrigin;
  /** the request's token, if it had one */
  principal?: Principal;
}

export interface NewPassword {
  password: string;
  changeRequired: boolean;
}

