/**
 * Business rules of the user aggregate as pure functions: given the folded
 * state and a command, return the events to append or throw a LatchkeyError.
 */
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  type LatchkeyError,
} from "../../errors/errors.js";
import type { RequestOrigin } from "../../audit/origin.js";
import type { NewEvent } from "../../eventstore/eventstore.js";
import { policyError } from "../password_policy.js";
import { checkPermission, type Principal } from "../permissions.js";
import {
  UserEvents,
  type AuditRecord,
  type HumanAddedPayload,
  type NotificationMedium,
  type PasswordChangedPayload,
  type PasswordCodeAddedPayload,
  type PasswordCodeCheckFailedPayload,
  type PasswordCodeInvalidatedPayload,
  type PendingCode,
  type UserState,
} from "./events.js";
import { SetPasswordErrorIds } from "./set_password_errors.js";

export interface AddHuman {
  principal: Principal;
  orgId: string;
  human: HumanAddedPayload;
}

export function decideAddHuman(state: UserState, cmd: AddHuman): NewEvent[] {
  checkPermission(cmd.principal, "user.write", { orgId: cmd.orgId });
  if (state.exists) throw alreadyExists("COMMAND-k2unb", "Errors.User.AlreadyExisting", "User already exists");
  return [{ type: UserEvents.humanAdded, payload: { ...cmd.human }, editor: cmd.principal.userId }];
}

/** A user that can be found: exists, not deleted. */
function requireExisting(state: UserState, id: string): void {
  if (!state.exists || state.state === "deleted") {
    throw notFound(id, "Errors.User.NotFound", "User could not be found");
  }
}

function requireHuman(state: UserState, id: string): void {
  requireExisting(state, id);
  if (state.kind !== "human") throw notFound(id, "Errors.User.NotFound", "User could not be found");
}

export function decideLock(state: UserState, principal: Principal, userId: string): NewEvent[] {
  requireExisting(state, "COMMAND-kf8Cv");
  checkPermission(principal, "user.write", { orgId: state.orgId, userId });
  if (state.state !== "active") {
    throw failedPrecondition("COMMAND-3NN8v", "Errors.User.ShouldBeActiveOrInitial", "User must be active to be locked");
  }
  return [{ type: UserEvents.locked, payload: {}, editor: principal.userId }];
}

export function decideDeactivate(state: UserState, principal: Principal, userId: string): NewEvent[] {
  requireExisting(state, "COMMAND-m9Ux2");
  checkPermission(principal, "user.write", { orgId: state.orgId, userId });
  if (state.state === "inactive") {
    throw failedPrecondition("COMMAND-5M0sf", "Errors.User.AlreadyInactive", "User is already deactivated");
  }
  return [{ type: UserEvents.deactivated, payload: {}, editor: principal.userId }];
}

export function decideRemove(state: UserState, principal: Principal, userId: string): NewEvent[] {
  requireExisting(state, "COMMAND-2Gy8q");
  checkPermission(principal, "user.write", { orgId: state.orgId, userId });
  return [{ type: UserEvents.removed, payload: {}, editor: principal.userId }];
}

export interface RequestPasswordReset {
  principal: Principal;
  userId: string;
  encryptedCode: string;
  expiresAt: number;
  medium: NotificationMedium;
  urlTemplate?: string;
  linkParams?: Readonly<Record<string, string>>;
  returnCode: boolean;
  /** recorded as the payload's `audit` */
  origin?: RequestOrigin;
}

/** The payload's `audit` field for a request from `origin`; nothing without one. */
function auditOf(origin: RequestOrigin | undefined, extra: Partial<AuditRecord> = {}): { audit?: AuditRecord } {
  return origin ? { audit: { ...origin, ...extra } } : {};
}

/** Order as the clients expect: NotFound before PermissionDenied. */
export function decidePasswordReset(state: UserState, cmd: RequestPasswordReset): NewEvent[] {
  requireHuman(state, "COMMAND-SAF4f");
  checkPermission(cmd.principal, "user.write", { orgId: state.orgId, userId: cmd.userId });
  const payload: PasswordCodeAddedPayload = {
    code: cmd.encryptedCode,
    expiresAt: cmd.expiresAt,
    medium: cmd.medium,
    ...(cmd.urlTemplate !== undefined && { urlTemplate: cmd.urlTemplate }),
    ...(cmd.linkParams && { linkParams: { ...cmd.linkParams } }),
    codeReturned: cmd.returnCode,
    ...auditOf(cmd.origin),
  };
  return [{ type: UserEvents.passwordCodeAdded, payload: { ...payload }, editor: cmd.principal.userId }];
}

/** What authorizes a password change. */
export type PasswordProof =
  /** the reset code; `matches` compares it with the pending (encrypted) code in constant time */
  | { kind: "code"; code: string; matches: (encrypted: string, given: string) => boolean }
  /** the current password, already verified outside the lock against `verifiedHash` (undefined: it did not verify) */
  | { kind: "currentPassword"; verifiedHash: string | undefined }
  /** neither: the caller needs user.write on the user */
  | { kind: "permission"; principal: Principal };

/** The new password after the policy check: its hash, or the rules it misses. */
export type CheckedPassword = { ok: true; hash: string } | { ok: false; unmet: readonly string[] };

export interface SetPassword {
  userId: string;
  proof: PasswordProof;
  newPassword: CheckedPassword;
  changeRequired: boolean;
  /** Unix ms */
  now: number;
  /** wrong codes after which the pending code is invalidated */
  maxCodeAttempts: number;
  /** where the request came from, recorded as the payloads' `audit` */
  origin?: RequestOrigin;
  /**
   * the user behind the request's token, if it had one: the editor of what a
   * code or the current password authorizes; without a token, the user
   * themself is, since they hold the proof
   */
  callerId?: string;
}

/** Events to append, and the error to answer with once they are stored. */
export interface Verdict {
  events: NewEvent[];
  rejection?: LatchkeyError;
}

/**
 * Order as ZITADEL answers: user and code (or current password, or
 * permission) first, then the policy, so a rejected password leaves the code
 * usable. A wrong code is recorded, and the last allowed one invalidates it.
 */
export function decideSetPassword(state: UserState, cmd: SetPassword): Verdict {
  const { proof } = cmd;
  let editor = cmd.callerId ?? cmd.userId;
  switch (proof.kind) {
    case "code": {
      const wrong = checkCode(state, cmd, editor, proof.code, proof.matches);
      if (wrong) return wrong;
      break;
    }
    case "currentPassword":
      // unknown user and wrong password look alike, so the call does not reveal who exists
      if (!isHuman(state) || proof.verifiedHash === undefined || proof.verifiedHash !== state.passwordHash) {
        throw invalidArgument(SetPasswordErrorIds.currentPasswordInvalid, "Errors.User.Password.Invalid", "The current password is not correct");
      }
      break;
    case "permission":
      requireHuman(state, "COMMAND-G8dh3");
      checkPermission(proof.principal, "user.write", { orgId: state.orgId, userId: cmd.userId });
      editor = proof.principal.userId;
      break;
  }
  if (!cmd.newPassword.ok) throw policyError(cmd.newPassword.unmet);
  const payload: PasswordChangedPayload = {
    passwordHash: cmd.newPassword.hash,
    changeRequired: cmd.changeRequired,
    ...auditOf(cmd.origin, { proof: proof.kind }),
  };
  return { events: [{ type: UserEvents.passwordChanged, payload: { ...payload }, editor }] };
}

function isHuman(state: UserState): boolean {
  return state.exists && state.state !== "deleted" && state.kind === "human";
}

/** Throws when no usable code is pending; returns a verdict for a wrong code; undefined when it matches. */
function checkCode(
  state: UserState,
  cmd: SetPassword,
  editor: string,
  given: string,
  matches: (encrypted: string, given: string) => boolean,
): Verdict | undefined {
  const code: PendingCode | undefined = isHuman(state) ? state.pendingCode : undefined;
  if (!code) {
    if (isHuman(state) && state.codeInvalidated) {
      throw failedPrecondition(
        SetPasswordErrorIds.codeTooManyAttempts,
        "Errors.User.Code.TooManyAttempts",
        "Too many wrong codes: this code no longer works. Request a new password reset",
      );
    }
    throw failedPrecondition(SetPasswordErrorIds.codeNotFound, "Errors.User.Code.NotFound", "No password reset code is pending. Request a new password reset");
  }
  if (cmd.now > code.expiresAt) {
    throw failedPrecondition(SetPasswordErrorIds.codeExpired, "Errors.User.Code.Expired", "The code has expired. Request a new password reset");
  }
  if (matches(code.encrypted, given)) return undefined;

  const failedAttempts = (code.failedAttempts ?? 0) + 1;
  const failed: PasswordCodeCheckFailedPayload = auditOf(cmd.origin);
  const events: NewEvent[] = [{ type: UserEvents.passwordCodeCheckFailed, payload: { ...failed }, editor }];
  if (failedAttempts >= cmd.maxCodeAttempts) {
    const payload: PasswordCodeInvalidatedPayload = { failedAttempts, ...auditOf(cmd.origin) };
    events.push({ type: UserEvents.passwordCodeInvalidated, payload: { ...payload }, editor });
  }
  return { events, rejection: invalidArgument(SetPasswordErrorIds.codeInvalid, "Errors.User.Code.Invalid", "The code is not correct") };
}
