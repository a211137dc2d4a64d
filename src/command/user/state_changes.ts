/** Lock, unlock, deactivate, reactivate and delete: one event each, decided by the pure rules in decide.ts. */
import type { CommandDeps } from "../deps.js";
import { detailsOf, type ObjectDetails } from "../details.js";
import { execute, type Decision } from "../execute.js";
import type { Principal } from "../permissions.js";
import { decideDeactivate, decideLock, decideReactivate, decideRemove, decideUnlock } from "./decide.js";
import { userModel, type UserState } from "./events.js";
import { emailLookup, userRef, usernameConstraint } from "./inputs.js";

async function change(deps: CommandDeps, userId: string, decide: (state: UserState) => Decision): Promise<ObjectDetails> {
  const { state, stored } = await execute(deps.aggregates, userRef(userId), userModel, decide);
  return detailsOf(stored[stored.length - 1]!, state.createdAt);
}

export const lockUser = (deps: CommandDeps, p: Principal, id: string) => change(deps, id, (s) => ({ events: decideLock(s, p, id) }));
export const unlockUser = (deps: CommandDeps, p: Principal, id: string) => change(deps, id, (s) => ({ events: decideUnlock(s, p, id) }));
export const deactivateUser = (deps: CommandDeps, p: Principal, id: string) => change(deps, id, (s) => ({ events: decideDeactivate(s, p, id) }));
export const reactivateUser = (deps: CommandDeps, p: Principal, id: string) => change(deps, id, (s) => ({ events: decideReactivate(s, p, id) }));

/** The username and email address are free again once the user is gone. */
export const deleteUser = (deps: CommandDeps, p: Principal, id: string) =>
  change(deps, id, (s) => ({
    events: decideRemove(s, p, id),
    removeUnique: [usernameConstraint(s.orgId, s.username)],
    ...(s.human && { removeLookup: [emailLookup(s.orgId, s.human.email.address)] }),
  }));
