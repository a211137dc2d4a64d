/** The user commands bound to their dependencies, for the API, the hosted page and the Auth0 endpoint; each rule lives in its own file. */
import type { CommandDeps } from "../deps.js";
import { addHumanUser } from "./add_human_user.js";
import { checkResetLink } from "./check_reset_link.js";
import { requestPasswordReset } from "./request_password_reset.js";
import { requestPasswordResetByEmail } from "./request_password_reset_by_email.js";
import { setPassword } from "./set_password.js";
import { deactivateUser, deleteUser, lockUser, reactivateUser, unlockUser } from "./state_changes.js";

export type { AddHumanInput, NewPassword, ResetLink, ResetMedium, SetPasswordRequest, SetPasswordVerification } from "./inputs.js";
export { emailLookup, usernameConstraint } from "./inputs.js";

/** Each command with `deps` bound. */
export function createUserCommands(deps: CommandDeps) {
  const bind =
    <A extends unknown[], R>(command: (deps: CommandDeps, ...args: A) => R) =>
    (...args: A): R =>
      command(deps, ...args);
  return {
    addHumanUser: bind(addHumanUser),
    lockUser: bind(lockUser),
    unlockUser: bind(unlockUser),
    deactivateUser: bind(deactivateUser),
    reactivateUser: bind(reactivateUser),
    deleteUser: bind(deleteUser),
    requestPasswordReset: bind(requestPasswordReset),
    requestPasswordResetByEmail: bind(requestPasswordResetByEmail),
    setPassword: bind(setPassword),
    checkResetLink: bind(checkResetLink),
  };
}

export type UserCommands = ReturnType<typeof createUserCommands>;
