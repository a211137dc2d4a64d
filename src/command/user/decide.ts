/**
 * Business rules of the user aggregate as pure functions: given the folded
 * state and a command, return the events to append or throw a LatchkeyError.
 */
import { alreadyExists, failedPrecondition, notFound } from "../../errors/errors.js";
import type { NewEvent } from "../../eventstore/eventstore.js";
import { checkPermission, type Principal } from "../permissions.js";
import {
  UserEvents,
  type HumanAddedPayload,
  type NotificationMedium,
  type PasswordCodeAddedPayload,
  type UserState,
} from "./events.js";

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
  returnCode: boolean;
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
    codeReturned: cmd.returnCode,
  };
  return [{ type: UserEvents.passwordCodeAdded, payload: { ...payload }, editor: cmd.principal.userId }];
}
