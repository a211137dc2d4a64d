/** The read side bound to its dependencies, for the API. */
import type { CommandDeps } from "../command/deps.js";
import type { Principal } from "../command/permissions.js";
import { getUserByID } from "./user_by_id.js";

export function createUserQueries(deps: CommandDeps) {
  return {
    getUserByID: (principal: Principal, userId: string) => getUserByID(deps, principal, userId),
  };
}

export type UserQueries = ReturnType<typeof createUserQueries>;
