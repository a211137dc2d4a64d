import { permissionDenied, unauthenticated } from "../errors/errors.js";
import type { Role } from "./user/events.js";

/** Who is calling: the machine user behind a personal access token. */
export interface Principal {
  readonly userId: string;
  readonly orgId: string;
  readonly role: Role;
}

export type Permission = "user.read" | "user.write";

const GRANTS: Record<Role, readonly Permission[]> = {
  IAM_OWNER: ["user.read", "user.write"],
  ORG_OWNER: ["user.read", "user.write"],
};

/** IAM_OWNER holds its permissions in every organization, ORG_OWNER in its own. */
export function hasPermission(principal: Principal, permission: Permission, orgId: string): boolean {
  if (!GRANTS[principal.role].includes(permission)) return false;
  return principal.role === "IAM_OWNER" || principal.orgId === orgId;
}

/**
 * The caller's token, inside a handler. Only SetPassword gets this far without
 * one (the authentication interceptor refuses every other method first,
 * AUTH-x7Bq3): a token is what it needs unless the reset code is the proof.
 */
export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) {
    throw unauthenticated("AUTH-x7Bq2", "Errors.Token.Missing", "Authorization header with a bearer token is required unless the verification code is given");
  }
  return principal;
}

/** Roles by rank; a user without a role (every human) ranks below both. */
const RANK: Record<Role, number> = { IAM_OWNER: 2, ORG_OWNER: 1 };

export function rankOf(role: Role | undefined): number {
  return role === undefined ? 0 : RANK[role];
}

/**
 * A caller may not act on a user who holds a role above its own, so an
 * ORG_OWNER cannot lock out the instance's IAM_OWNER. Equal ranks may.
 */
export function checkRoleRank(principal: Principal, targetRole: Role | undefined): void {
  if (rankOf(targetRole) > rankOf(principal.role)) {
    throw permissionDenied("AUTHZ-R4nk1", "Errors.PermissionDenied", "The user holds a role above the caller's");
  }
}

/** The operator at the command line, working directly on the store: every permission, the highest rank. */
export const OPERATOR: Principal = { userId: "system", orgId: "", role: "IAM_OWNER" };

/** The caller may act on itself; otherwise it needs the permission on the target's organization. */
export function checkPermission(
  principal: Principal,
  permission: Permission,
  target: { orgId: string; userId?: string },
): void {
  if (target.userId !== undefined && target.userId === principal.userId) return;
  if (!hasPermission(principal, permission, target.orgId)) {
    throw permissionDenied("AUTHZ-HKJD33", "Errors.PermissionDenied", "No matching permissions found");
  }
}
