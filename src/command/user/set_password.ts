/** SetPassword: the proof (a code, the current password, or a permission), the password rules, then the change. */
import { invalidArgument } from "../../errors/errors.js";
import type { CommandDeps } from "../deps.js";
import { detailsOf, type ObjectDetails } from "../details.js";
import { execute } from "../execute.js";
import { readPasswordPolicies } from "../org/password_policy.js";
import { checkNewPassword, type CheckedPassword } from "../password_rules/new_password.js";
import {
  checkPasswordProof,
  decideSetPassword,
  requireCurrentPasswordCheckable,
  type PasswordProof,
  type SetPassword,
} from "./decide_password.js";
import { userModel, type UserState } from "./events.js";
import { userRef, type NewPassword, type SetPasswordRequest, type SetPasswordVerification } from "./inputs.js";
import { ownerOf } from "./password_owner.js";
import { matchPendingCode } from "./pending_code.js";
import { SetPasswordErrorIds } from "./set_password_errors.js";

/**
 * Outside the aggregate lock, on the state as read: the organization's
 * policies, the proof (the code compared, or the current password verified
 * once nothing else refuses the call), and only when the proof holds, the
 * policy check and the hash. In the lock the same rules decide again on
 * fresh state, so a wrong code or password is counted exactly once.
 */
export async function setPassword(
  deps: CommandDeps,
  userId: string,
  newPassword: NewPassword | undefined,
  verification: SetPasswordVerification,
  request: SetPasswordRequest = {},
): Promise<ObjectDetails> {
  if (!newPassword || newPassword.password === "") {
    throw invalidArgument(SetPasswordErrorIds.passwordEmpty, "Errors.User.Password.Empty", "The new password must not be empty");
  }
  const before = await deps.aggregates.load(userRef(userId), userModel);
  const policies = await readPasswordPolicies(deps.aggregates, before.orgId);
  const command = (proof: PasswordProof, checked?: CheckedPassword): SetPassword => ({
    userId,
    proof,
    ...(checked && { newPassword: checked }),
    changeRequired: newPassword.changeRequired,
    now: deps.clock().getTime(),
    maxCodeAttempts: deps.codes.maxAttempts,
    maxPasswordAttempts: policies.lockout.maxPasswordAttempts,
    ...(request.origin && { origin: request.origin }),
    ...(request.principal && { callerId: request.principal.userId }),
  });
  const proof = await toProof(deps, userId, before, verification);
  const checked = checkPasswordProof(before, command(proof)).holds ? await checkNewPassword(deps, policies, ownerOf(before), newPassword.password) : undefined;
  let rejection: Error | undefined;
  const { state, stored } = await execute(deps.aggregates, userRef(userId), userModel, (s) => {
    const verdict = decideSetPassword(s, command(proof, checked));
    rejection = verdict.rejection;
    return { events: verdict.events };
  });
  if (rejection) throw rejection;
  return detailsOf(stored[stored.length - 1]!, state.createdAt);
}

async function toProof(deps: CommandDeps, userId: string, user: UserState, verification: SetPasswordVerification): Promise<PasswordProof> {
  switch (verification.kind) {
    case "code":
      return { kind: "code", verifiedCode: matchPendingCode(deps, user, verification.code) };
    case "currentPassword": {
      // what refuses the call anyway (unknown user, no permission, locked) does so before any hashing
      requireCurrentPasswordCheckable(user, verification.principal, userId);
      const hash = user.passwordHash;
      const ok = hash !== undefined && (await deps.hasher.verify(hash, verification.password));
      return { kind: "currentPassword", principal: verification.principal, verifiedHash: ok ? hash : undefined };
    }
    case "permission":
      return verification;
  }
}
