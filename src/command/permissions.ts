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

export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) {
    throw unauthenticated("AUTH-x7Bq2", "Errors.Token.Missing", "Authorization header with a bearer token is required");
  }
  return principal;
}

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
