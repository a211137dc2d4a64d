/**
 * The rules of a password change as pure functions: the proof (a reset code,
 * the current password or a permission), wrong attempts counted towards
 * invalidating the code and locking the user, and the hosted page's link check.
 */
import { failedPrecondition, invalidArgument, unavailable, type LatchkeyError } from "../../errors/errors.js";
import type { RequestOrigin } from "../../http/origin.js";
import type { NewEvent } from "../../eventstore/eventstore.js";
import { reachesLockout } from "../lockout_policy.js";
import type { CheckedPassword } from "../password_rules/new_password.js";
import { PasswordRejectedError } from "../password_rules/rejection.js";
import { type Principal } from "../permissions.js";
import {
  UserEvents,
  type PasswordChangedPayload,
  type PasswordCheckFailedPayload,
  type PasswordCodeCheckFailedPayload,
  type PasswordCodeInvalidatedPayload,
  type PendingCode,
  type UserLockedPayload,
  type UserState,
} from "./events.js";
import { SetPasswordErrorIds } from "./set_password_errors.js";
import { auditOf, authorize, requireExisting, requireHuman } from "./rules.js";

/** What authorizes a password change. */
export type PasswordProof =
  /**
   * the reset code, compared outside the lock (decrypted, in constant time)
   * with the pending code: `verifiedCode` is the encrypted code it matched,
   * undefined when it matched none
   */
  | { kind: "code"; verifiedCode: string | undefined }
  /**
   * the current password, for a caller with user.write on the user; verified
   * outside the lock against `verifiedHash` (undefined: it did not verify)
   */
  | { kind: "currentPassword"; principal: Principal; verifiedHash: string | undefined }
  /** neither: the caller needs user.write on the user */
  | { kind: "permission"; principal: Principal };

export type { CheckedPassword };

/** What a failed check needs to know to be counted. */
interface Attempt {
  userId: string;
  /** Unix ms */
  now: number;
  /** wrong codes after which the pending code is invalidated */
  maxCodeAttempts: number;
  /** failed checks after which the user is locked (the organization's lockout policy); 0: never */
  maxPasswordAttempts: number;
  /** where the request came from, recorded as the payloads' `audit` */
  origin?: RequestOrigin;
}

export interface SetPassword extends Attempt {
  proof: PasswordProof;
  /**
   * the new password, checked against the policy and hashed once the proof
   * held on the state read before; absent while it has not
   */
  newPassword?: CheckedPassword;
  changeRequired: boolean;
  /**
   * the user behind the request's token, if it had one: the editor of what a
   * code authorizes; without a token, the user themself is, since they hold it
   */
  callerId?: string;
}

/** Events to append, and the error to answer with once they are stored. */
export interface Verdict {
  events: NewEvent[];
  rejection?: LatchkeyError;
}

/** Whether the proof holds (and who then changes the password), or the verdict of a failed check. */
export type ProofCheck = { holds: true; editor: string } | { holds: false; verdict: Verdict };

/**
 * Checks the proof of a password change, in ZITADEL's order: the user and
 * the code (or the current password, or the permission). Throws what needs
 * no record; a wrong code or current password is a verdict with its events,
 * so it is counted. Needs no hashing: the commands hash only after it held.
 */
export function checkPasswordProof(state: UserState, cmd: SetPassword): ProofCheck {
  const { proof } = cmd;
  switch (proof.kind) {
    case "code": {
      const editor = cmd.callerId ?? cmd.userId;
      const outcome = checkCode(state, cmd, proof.verifiedCode, editor);
      if (outcome.kind === "unusable") throw outcome.error;
      if (outcome.kind === "wrong") return { holds: false, verdict: outcome.verdict };
      requireUnlocked(state);
      return { holds: true, editor };
    }
    case "currentPassword": {
      requireCurrentPasswordCheckable(state, proof.principal, cmd.userId);
      const editor = proof.principal.userId;
      if (proof.verifiedHash !== undefined && proof.verifiedHash === state.passwordHash) return { holds: true, editor };
      const failed: PasswordCheckFailedPayload = auditOf(cmd.origin);
      const events = countFailure(state, cmd, { type: UserEvents.passwordCheckFailed, payload: { ...failed }, editor });
      const rejection = invalidArgument(SetPasswordErrorIds.currentPasswordInvalid, "Errors.User.Password.Invalid", "The current password is not correct");
      return { holds: false, verdict: { events, rejection } };
    }
    case "permission":
      requireExisting(state, "COMMAND-G8dh3");
      authorize(proof.principal, state, cmd.userId);
      requireHuman(state, "COMMAND-G8dh3");
      return { holds: true, editor: proof.principal.userId };
  }
}

/**
 * What must hold before a current password is even compared: a human user
 * (an unknown one looks like a wrong password), a caller with user.write on
 * it, and no lock. Throws otherwise.
 */
export function requireCurrentPasswordCheckable(state: UserState, principal: Principal, userId: string): void {
  if (!isHuman(state)) {
    throw invalidArgument(SetPasswordErrorIds.currentPasswordInvalid, "Errors.User.Password.Invalid", "The current password is not correct");
  }
  authorize(principal, state, userId);
  requireUnlocked(state);
}

/** A locked user's password changes only by an administrator's SetPassword, or after UnlockUser. */
function requireUnlocked(state: UserState): void {
  if (state.state === "locked") {
    throw failedPrecondition(SetPasswordErrorIds.userLocked, "Errors.User.Locked", "The user is locked; an administrator can unlock it");
  }
}

/**
 * Then the policy, so a rejected password leaves the code usable. A wrong
 * code or current password is recorded, and counts toward the code's
 * invalidation and the user's lockout.
 */
export function decideSetPassword(state: UserState, cmd: SetPassword): Verdict {
  const check = checkPasswordProof(state, cmd);
  if (!check.holds) return check.verdict;
  // the commands check and hash the password once the proof held on what they read
  if (!cmd.newPassword) throw unavailable("COMMAND-r3Tr2", "Errors.Internal.Contention", "The user changed meanwhile, try again");
  if (!cmd.newPassword.ok) throw new PasswordRejectedError(cmd.newPassword.violations);
  const payload: PasswordChangedPayload = {
    passwordHash: cmd.newPassword.hash,
    changeRequired: cmd.changeRequired,
    ...auditOf(cmd.origin, { proof: cmd.proof.kind }),
  };
  return { events: [{ type: UserEvents.passwordChanged, payload: { ...payload }, editor: check.editor }] };
}

export interface ResetLinkCheck extends Attempt {
  /** as in PasswordProof's code */
  verifiedCode: string | undefined;
}

/** A reset link's code: valid (the user may be locked), or not, with the events of a wrong code. */
export type LinkVerdict = { valid: true; locked: boolean } | { valid: false; events: NewEvent[] };

/**
 * The hosted page's check of its link, the same as SetPassword's for a
 * code: a wrong code is recorded and counted by the user themself.
 */
export function decideResetLink(state: UserState, cmd: ResetLinkCheck): LinkVerdict {
  const outcome = checkCode(state, cmd, cmd.verifiedCode, cmd.userId);
  switch (outcome.kind) {
    case "match":
      return { valid: true, locked: state.state === "locked" };
    case "wrong":
      return { valid: false, events: outcome.verdict.events };
    case "unusable":
      return { valid: false, events: [] };
  }
}

function isHuman(state: UserState): boolean {
  return state.exists && state.state !== "deleted" && state.kind === "human";
}

type CodeOutcome = { kind: "match" } | { kind: "wrong"; verdict: Verdict } | { kind: "unusable"; error: LatchkeyError };

/** The pending code against the one given: no usable code, a wrong one (recorded), or a match. */
function checkCode(state: UserState, cmd: Attempt, verifiedCode: string | undefined, editor: string): CodeOutcome {
  const code: PendingCode | undefined = isHuman(state) ? state.pendingCode : undefined;
  if (!code) {
    if (isHuman(state) && state.codeInvalidated) {
      const error = failedPrecondition(
        SetPasswordErrorIds.codeTooManyAttempts,
        "Errors.User.Code.TooManyAttempts",
        "Too many wrong codes: this code no longer works. Request a new password reset",
      );
      return { kind: "unusable", error };
    }
    const error = failedPrecondition(SetPasswordErrorIds.codeNotFound, "Errors.User.Code.NotFound", "No password reset code is pending. Request a new password reset");
    return { kind: "unusable", error };
  }
  if (cmd.now > code.expiresAt) {
    const error = failedPrecondition(SetPasswordErrorIds.codeExpired, "Errors.User.Code.Expired", "The code has expired. Request a new password reset");
    return { kind: "unusable", error };
  }
  if (verifiedCode !== undefined && verifiedCode === code.encrypted) return { kind: "match" };

  const failedAttempts = (code.failedAttempts ?? 0) + 1;
  const failed: PasswordCodeCheckFailedPayload = auditOf(cmd.origin);
  const recorded: NewEvent[] = [{ type: UserEvents.passwordCodeCheckFailed, payload: { ...failed }, editor }];
  if (failedAttempts >= cmd.maxCodeAttempts) {
    const payload: PasswordCodeInvalidatedPayload = { failedAttempts, ...auditOf(cmd.origin) };
    recorded.push({ type: UserEvents.passwordCodeInvalidated, payload: { ...payload }, editor });
  }
  const events = countFailure(state, cmd, ...recorded);
  return { kind: "wrong", verdict: { events, rejection: invalidArgument(SetPasswordErrorIds.codeInvalid, "Errors.User.Code.Invalid", "The code is not correct") } };
}

/**
 * A failed check's events, and when it is the one that reaches the
 * organization's limit, the lock in the same append (as ZITADEL does). Only
 * an active user is locked: a locked one already is, and a deactivated one
 * stays so; its count goes on.
 */
function countFailure(state: UserState, cmd: Attempt, ...failure: NewEvent[]): NewEvent[] {
  const failedAttempts = (state.failedChecks ?? 0) + 1;
  if (state.state !== "active" || !reachesLockout(cmd.maxPasswordAttempts, failedAttempts)) return failure;
  const payload: UserLockedPayload = { failedAttempts, ...auditOf(cmd.origin) };
  return [...failure, { type: UserEvents.locked, payload: { ...payload }, editor: failure[0]!.editor }];
}
