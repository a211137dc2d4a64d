/**
 * Business rules of the user aggregate as pure functions: given the folded
 * state and a command, return the events to append or throw a LatchkeyError.
 */
import { alreadyExists, failedPrecondition } from "../../errors/errors.js";
import type { RequestOrigin } from "../../http/origin.js";
import type { NewEvent } from "../../eventstore/eventstore.js";
import { checkPermission, type Principal } from "../permissions.js";
import { UserEvents, type HumanAddedPayload, type NotificationMedium, type PasswordCodeAddedPayload, type UserState } from "./events.js";
import { auditOf, authorize, requireExisting, requireHuman } from "./rules.js";

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

/** What a state change checks and records: its error ids, the states it may start from (any, without `from`), its event. */
interface StateChange {
  notFoundId: string;
  from?: (state: UserState["state"]) => boolean;
  refusal?: readonly [id: string, key: string, text: string];
  event: string;
}

const STATE_CHANGES = {
  lock: { notFoundId: "COMMAND-kf8Cv", from: (s: UserState["state"]) => s === "active", refusal: ["COMMAND-3NN8v", "Errors.User.ShouldBeActiveOrInitial", "User must be active to be locked"], event: UserEvents.locked },
  unlock: { notFoundId: "COMMAND-M0dos", from: (s: UserState["state"]) => s === "locked", refusal: ["COMMAND-4M0ds", "Errors.User.NotLocked", "User is not locked"], event: UserEvents.unlocked },
  deactivate: { notFoundId: "COMMAND-m9Ux2", from: (s: UserState["state"]) => s !== "inactive", refusal: ["COMMAND-5M0sf", "Errors.User.AlreadyInactive", "User is already deactivated"], event: UserEvents.deactivated },
  reactivate: { notFoundId: "COMMAND-4M0sd", from: (s: UserState["state"]) => s === "inactive", refusal: ["COMMAND-6M0sf", "Errors.User.NotInactive", "User is not deactivated"], event: UserEvents.reactivated },
  remove: { notFoundId: "COMMAND-2Gy8q", event: UserEvents.removed },
} satisfies Record<string, StateChange>;

/** A state change: the user is found, the caller may change it, the change applies to its state. */
function decideStateChange(change: keyof typeof STATE_CHANGES, state: UserState, principal: Principal, userId: string): NewEvent[] {
  const rule: StateChange = STATE_CHANGES[change];
  requireExisting(state, rule.notFoundId);
  authorize(principal, state, userId);
  if (rule.from && rule.refusal && !rule.from(state.state)) throw failedPrecondition(...rule.refusal);
  return [{ type: rule.event, payload: {}, editor: principal.userId }];
}

export const decideLock = (state: UserState, principal: Principal, userId: string) => decideStateChange("lock", state, principal, userId);
export const decideUnlock = (state: UserState, principal: Principal, userId: string) => decideStateChange("unlock", state, principal, userId);
export const decideDeactivate = (state: UserState, principal: Principal, userId: string) => decideStateChange("deactivate", state, principal, userId);
export const decideReactivate = (state: UserState, principal: Principal, userId: string) => decideStateChange("reactivate", state, principal, userId);
export const decideRemove = (state: UserState, principal: Principal, userId: string) => decideStateChange("remove", state, principal, userId);

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
