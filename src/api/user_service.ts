/**
 * zitadel.user.v2.UserService handlers: pick the oneof case, call one
 * command, map the result. Rules live in src/command.
 */
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { UserService } from "../../gen/zitadel/user/v2/user_service_pb.js";
import type { ObjectDetails } from "../command/details.js";
import { requirePrincipal, type Principal } from "../command/permissions.js";
import type { SetPasswordVerification, UserCommands } from "../command/user/commands.js";
import type { UserQueries } from "../query/queries.js";
import { originKey, principalKey } from "./context.js";
import { toDetails } from "./details.js";
import { toAddHumanInput, toProtoUser, toResetMedium } from "./user_mapping.js";

/** Lock, unlock, deactivate, reactivate and delete: a user id in, the details of the one event out. */
function stateChange(change: (principal: Principal, userId: string) => Promise<ObjectDetails>) {
  return async (req: { userId: string }, ctx: HandlerContext) => ({
    details: toDetails(await change(requirePrincipal(ctx.values.get(principalKey)), req.userId)),
  });
}

export function userService(users: UserCommands, queries: UserQueries): Partial<ServiceImpl<typeof UserService>> {
  return {
    async addHumanUser(req, ctx) {
      const principal = requirePrincipal(ctx.values.get(principalKey));
      const { userId, details } = await users.addHumanUser(principal, toAddHumanInput(req));
      return { userId, details: toDetails(details) };
    },

    async getUserByID(req, ctx) {
      const principal = requirePrincipal(ctx.values.get(principalKey));
      const { user, details } = await queries.getUserByID(principal, req.userId);
      return { details: toDetails(details), user: toProtoUser(req.userId, user, details) };
    },

    lockUser: stateChange(users.lockUser),
    unlockUser: stateChange(users.unlockUser),
    deactivateUser: stateChange(users.deactivateUser),
    reactivateUser: stateChange(users.reactivateUser),
    deleteUser: stateChange(users.deleteUser),

    async passwordReset(req, ctx) {
      const principal = requirePrincipal(ctx.values.get(principalKey));
      const { details, code } = await users.requestPasswordReset(principal, req.userId, toResetMedium(req.medium), ctx.values.get(originKey));
      return { details: toDetails(details), ...(code !== undefined && { verificationCode: code }) };
    },

    // Anonymous callers get this far (see the auth interceptor): holding the
    // code authorizes the change; the current password, or none, needs a
    // token with user.write on the user.
    async setPassword(req, ctx) {
      const principal = ctx.values.get(principalKey);
      const { verification } = req;
      let proof: SetPasswordVerification;
      switch (verification.case) {
        case "verificationCode":
          proof = { kind: "code", code: verification.value };
          break;
        case "currentPassword":
          proof = { kind: "currentPassword", password: verification.value, principal: requirePrincipal(principal) };
          break;
        case undefined:
          proof = { kind: "permission", principal: requirePrincipal(principal) };
          break;
      }
      const newPassword = req.newPassword && { password: req.newPassword.password, changeRequired: req.newPassword.changeRequired };
      const origin = ctx.values.get(originKey);
      const request = { ...(origin && { origin }), ...(principal && { principal }) };
      return { details: toDetails(await users.setPassword(req.userId, newPassword, proof, request)) };
    },
  };
}
