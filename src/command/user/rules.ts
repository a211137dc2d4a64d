/** Checks every decision of the user aggregate begins with: the user is there, and the caller may change it. */
import { notFound } from "../../errors/errors.js";
import type { RequestOrigin } from "../../http/origin.js";
import { checkPermission, checkRoleRank, type Principal } from "../permissions.js";
import type { AuditRecord, UserState } from "./events.js";

/** A user that can be found: exists, not deleted. */
export function requireExisting(state: UserState, id: string): void {
  if (!state.exists || state.state === "deleted") {
    throw notFound(id, "Errors.User.NotFound", "User could not be found");
  }
}

export function requireHuman(state: UserState, id: string): void {
  requireExisting(state, id);
  if (state.kind !== "human") throw notFound(id, "Errors.User.NotFound", "User could not be found");
}

/** user.write on the user's organization (or the user itself), and no role above the caller's. */
export function authorize(principal: Principal, state: UserState, userId: string): void {
  checkPermission(principal, "user.write", { orgId: state.orgId, userId });
  checkRoleRank(principal, state.role);
}

/** The payload's `audit` field for a request from `origin`; nothing without one. */
export function auditOf(origin: RequestOrigin | undefined, extra: Partial<AuditRecord> = {}): { audit?: AuditRecord } {
  return origin ? { audit: { ...origin, ...extra } } : {};
}
