/** GetUserByID: the user as folded from its events, with a password past the organization's maximum age marked for change. */
import type { CommandDeps } from "../command/deps.js";
import type { ObjectDetails } from "../command/details.js";
import { readPasswordPolicies } from "../command/org/password_policy.js";
import { passwordExpired } from "../command/password_rules/policy.js";
import { checkPermission, type Principal } from "../command/permissions.js";
import { userModel, type UserState } from "../command/user/events.js";
import { userRef } from "../command/user/inputs.js";
import { notFound } from "../errors/errors.js";

export async function getUserByID(deps: CommandDeps, principal: Principal, userId: string): Promise<{ user: UserState; details: ObjectDetails }> {
  const user = await deps.aggregates.load(userRef(userId), userModel);
  if (!user.exists || user.state === "deleted") {
    throw notFound("QUERY-Bn3Ah", "Errors.User.NotFound", "User could not be found");
  }
  checkPermission(principal, "user.read", { orgId: user.orgId, userId });
  // a password older than the organization allows must be changed
  const { rules } = await readPasswordPolicies(deps.aggregates, user.orgId);
  const expired = user.human !== undefined && passwordExpired(rules.maxAgeDays, user.passwordChangedAt, deps.clock());
  return {
    user: expired ? { ...user, human: { ...user.human!, passwordChangeRequired: true } } : user,
    details: {
      sequence: user.sequence,
      changeDate: user.changedAt!,
      resourceOwner: user.orgId,
      creationDate: user.createdAt!,
    },
  };
}
