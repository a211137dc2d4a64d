import type { RequestOrigin } from "../../http/origin.js";
import type { CommandDeps } from "../deps.js";
import { execute } from "../execute.js";
import { readPasswordPolicies } from "../org/password_policy.js";
import { decideResetLink } from "./decide_password.js";
import { userModel, type UserState } from "./events.js";
import { userRef, type ResetLink } from "./inputs.js";
import { matchPendingCode } from "./pending_code.js";

/**
 * The hosted page's check of its link: valid, with the policy the new
 * password must meet, or not. A wrong code is recorded and counted as in
 * SetPassword, so the page is no way around the limits.
 */
export async function checkResetLink(deps: CommandDeps, userId: string, code: string, origin?: RequestOrigin): Promise<ResetLink> {
  const before = await deps.aggregates.load(userRef(userId), userModel);
  const policies = await readPasswordPolicies(deps.aggregates, before.orgId);
  const verifiedCode = matchPendingCode(deps, before, code);
  const check = (s: UserState) =>
    decideResetLink(s, {
      userId,
      verifiedCode,
      now: deps.clock().getTime(),
      maxCodeAttempts: deps.codes.maxAttempts,
      maxPasswordAttempts: policies.lockout.maxPasswordAttempts,
      ...(origin && { origin }),
    });
  const first = check(before);
  if (first.valid) return first.locked ? { kind: "locked" } : { kind: "valid", policy: policies.complexity, rules: policies.rules };
  if (first.events.length > 0) {
    // decided again on fresh state: a code used or expired meanwhile records nothing
    await execute(deps.aggregates, userRef(userId), userModel, (s) => {
      const verdict = check(s);
      return { events: verdict.valid ? [] : verdict.events };
    });
  }
  return { kind: "invalid" };
}
