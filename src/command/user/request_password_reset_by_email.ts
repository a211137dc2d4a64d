import type { RequestOrigin } from "../../http/origin.js";
import { generateCode } from "../../crypto/codes.js";
import type { CommandDeps } from "../deps.js";
import type { Principal } from "../permissions.js";
import { emailLookup } from "./inputs.js";
import { requestPasswordReset } from "./request_password_reset.js";

/**
 * Starts a reset with the default medium for each user of the organization
 * with this email address, on behalf of `actor` (who is recorded as the
 * editor) from `origin`; returns how many were started. Without a user it
 * still makes and encrypts a code, so that both cases do about the same work.
 */
export async function requestPasswordResetByEmail(
  deps: CommandDeps,
  actor: string,
  orgId: string,
  email: string,
  linkParams?: Readonly<Record<string, string>>,
  origin?: RequestOrigin,
  /** asked for each user before the resets (a rate limit): a user it refuses gets no code and no message */
  mayReset: (userId: string) => Promise<boolean> = async () => true,
): Promise<number> {
  const userIds: string[] = [];
  for (const userId of await deps.store.findLookup(emailLookup(orgId, email))) if (await mayReset(userId)) userIds.push(userId);
  if (userIds.length === 0) {
    deps.cipher.encrypt(generateCode(deps.codes.length));
    return 0;
  }
  const principal: Principal = { userId: actor, orgId, role: "ORG_OWNER" };
  for (const userId of userIds) {
    await requestPasswordReset(deps, principal, userId, { kind: "default", ...(linkParams && { linkParams }) }, origin);
  }
  return userIds.length;
}
