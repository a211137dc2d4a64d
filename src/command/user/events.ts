/** Events of the user aggregate: names, payloads, and the fold into state. */
import type { RequestOrigin } from "../../http/origin.js";
import type { StoredEvent } from "../../eventstore/eventstore.js";
import { foldWith, type WriteModel } from "../write_model.js";
import { MAX_HISTORY_COUNT } from "../password_rules/policy.js";

export const USER_AGGREGATE = "user";

const USER = "user.";
const HUMAN = `${USER}human.`;
const PASSWORD = `${HUMAN}password.`;

export const UserEvents = {
  humanAdded: `${HUMAN}added`,
  machineAdded: `${USER}machine.added`,
  patAdded: `${USER}personal.access.token.added`,
  locked: `${USER}locked`,
  unlocked: `${USER}unlocked`,
  deactivated: `${USER}deactivated`,
  reactivated: `${USER}reactivated`,
  removed: `${USER}removed`,
  passwordCodeAdded: `${PASSWORD}code.added`,
  passwordCodeSent: `${PASSWORD}code.sent`,
  passwordCodeCheckFailed: `${PASSWORD}code.check.failed`,
  passwordCodeInvalidated: `${PASSWORD}code.invalidated`,
  passwordCheckFailed: `${PASSWORD}check.failed`,
  passwordChanged: `${PASSWORD}changed`,
  passwordChangeSent: `${PASSWORD}change.sent`,
  notificationFailed: `${HUMAN}notification.failed`,
} as const;

export type NotificationMedium = "email" | "sms";
export type Role = "IAM_OWNER" | "ORG_OWNER";

export interface HumanProfile {
  givenName: string;
  familyName: string;
  nickName?: string;
  displayName?: string;
  preferredLanguage?: string;
  gender?: number;
}

export interface HumanAddedPayload {
  username: string;
  profile: HumanProfile;
  email: { address: string; verified: boolean };
  phone?: { number: string; verified: boolean };
  passwordHash?: string;
  passwordChangeRequired: boolean;
}

export interface MachineAddedPayload {
  username: string;
  name: string;
  description: string;
  role: Role;
}

export interface PatAddedPayload {
  tokenId: string;
}

/** How a password change was authorized (see decideSetPassword). */
export type PasswordProofKind = "code" | "currentPassword" | "permission";

/**
 * Where the request that caused an event came from; the editor says who.
 * Recorded on resets, code and password checks, locks by the lockout policy
 * and password changes that came in over the API, the Auth0 endpoint or the
 * hosted page; absent on older events.
 */
export interface AuditRecord extends RequestOrigin {
  /** on password.changed only */
  proof?: PasswordProofKind;
}

export interface PasswordCodeAddedPayload {
  /** the code, encrypted (see crypto/code_cipher) */
  code: string;
  /** Unix ms after which the code is no longer accepted */
  expiresAt: number;
  medium: NotificationMedium;
  urlTemplate?: string;
  /** extra query parameters of the hosted page's link (no urlTemplate) */
  linkParams?: Record<string, string>;
  /** true when the code went back to the caller, so nothing is sent */
  codeReturned: boolean;
  audit?: AuditRecord;
}

export interface PasswordChangedPayload {
  /** argon2id, PHC string format */
  passwordHash: string;
  /** the user must change the password at the next login */
  changeRequired: boolean;
  audit?: AuditRecord;
}

export interface PasswordCodeCheckFailedPayload {
  audit?: AuditRecord;
}

/** A wrong current password. */
export interface PasswordCheckFailedPayload {
  audit?: AuditRecord;
}

/** Locked by an administrator (empty), or by the lockout policy after a failed check. */
export interface UserLockedPayload {
  /** failed checks that reached the organization's limit */
  failedAttempts?: number;
  audit?: AuditRecord;
}

export interface PasswordCodeInvalidatedPayload {
  /** wrong codes tried before the code was invalidated */
  failedAttempts: number;
  audit?: AuditRecord;
}

export type UserStateName = "active" | "inactive" | "locked" | "deleted";

export interface PendingCode {
  encrypted: string;
  expiresAt: number;
  sequence: number;
  /** wrong codes tried against this code; absent: none */
  failedAttempts?: number;
}

export interface UserState {
  exists: boolean;
  kind?: "human" | "machine";
  state: UserStateName;
  orgId: string;
  username: string;
  human?: Omit<HumanAddedPayload, "passwordHash">;
  passwordHash?: string;
  passwordChangedAt?: Date;
  /** hashes of the current and earlier passwords, newest first, as many as a history policy may ask for */
  passwordHistory?: string[];
  role?: Role;
  pendingCode?: PendingCode;
  /** the last code was invalidated after too many wrong attempts, and none is pending */
  codeInvalidated?: boolean;
  /**
   * wrong current passwords and wrong codes since the last password change
   * or unlock, counted against the lockout policy; absent: none
   */
  failedChecks?: number;
  sequence: number;
  createdAt?: Date;
  changedAt?: Date;
}

export function initialUserState(): UserState {
  return { exists: false, state: "active", orgId: "", username: "", sequence: 0 };
}

/** Folds one event into the state. Events of types not listed are ignored. */
export function evolveUser(state: UserState, event: StoredEvent): UserState {
  const next: UserState = { ...state, sequence: event.sequence, changedAt: event.createdAt };
  switch (event.type) {
    case UserEvents.humanAdded: {
      const { passwordHash, ...human } = event.payload as unknown as HumanAddedPayload;
      return {
        ...next,
        exists: true,
        kind: "human",
        orgId: event.resourceOwner,
        username: human.username,
        human,
        ...(passwordHash !== undefined && { passwordHash, passwordChangedAt: event.createdAt, passwordHistory: [passwordHash] }),
        createdAt: event.createdAt,
      };
    }
    case UserEvents.machineAdded: {
      const machine = event.payload as unknown as MachineAddedPayload;
      return {
        ...next,
        exists: true,
        kind: "machine",
        orgId: event.resourceOwner,
        username: machine.username,
        role: machine.role,
        createdAt: event.createdAt,
      };
    }
    case UserEvents.locked:
      return { ...next, state: "locked" };
    case UserEvents.unlocked: {
      const { failedChecks: _reset, ...rest } = next;
      return { ...rest, state: "active" };
    }
    case UserEvents.deactivated:
      return { ...next, state: "inactive" };
    case UserEvents.reactivated:
      return { ...next, state: "active" };
    case UserEvents.removed: {
      const { pendingCode: _dropped, ...rest } = next;
      return { ...rest, state: "deleted" };
    }
    case UserEvents.passwordCodeAdded: {
      const payload = event.payload as unknown as PasswordCodeAddedPayload;
      const { codeInvalidated: _replaced, ...rest } = next;
      return {
        ...rest,
        pendingCode: { encrypted: payload.code, expiresAt: payload.expiresAt, sequence: event.sequence },
      };
    }
    case UserEvents.passwordCodeCheckFailed: {
      const counted = { ...next, failedChecks: (next.failedChecks ?? 0) + 1 };
      if (!next.pendingCode) return counted;
      const failedAttempts = (next.pendingCode.failedAttempts ?? 0) + 1;
      return { ...counted, pendingCode: { ...next.pendingCode, failedAttempts } };
    }
    case UserEvents.passwordCheckFailed:
      return { ...next, failedChecks: (next.failedChecks ?? 0) + 1 };
    case UserEvents.passwordCodeInvalidated: {
      const { pendingCode: _invalidated, ...rest } = next;
      return { ...rest, codeInvalidated: true };
    }
    case UserEvents.passwordChanged: {
      const payload = event.payload as unknown as PasswordChangedPayload;
      // a changed password makes any outstanding reset code pointless: it is dropped
      const { pendingCode: _used, codeInvalidated: _moot, failedChecks: _reset, ...rest } = next;
      return {
        ...rest,
        passwordHash: payload.passwordHash,
        passwordChangedAt: event.createdAt,
        passwordHistory: [payload.passwordHash, ...(rest.passwordHistory ?? [])].slice(0, MAX_HISTORY_COUNT),
        ...(rest.human && { human: { ...rest.human, passwordChangeRequired: payload.changeRequired } }),
      };
    }
    default:
      return next;
  }
}

export const userModel: WriteModel<UserState> = { name: "user", version: 2, initial: initialUserState, evolve: evolveUser };

export function foldUser(events: readonly StoredEvent[]): UserState {
  return foldWith(userModel, events);
}
