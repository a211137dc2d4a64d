/**
 * zitadel.user.v2beta.UserService, the edition ZITADEL's Node SDK calls: the
 * v2 handlers behind v2beta's messages, which have v2's field numbers. A
 * method declared in both protos is served here once userService has it.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { UserService as UserServiceV2beta } from "../../gen/zitadel/user/v2beta/user_service_pb.js";
import { UserService } from "../../gen/zitadel/user/v2/user_service_pb.js";
import type { UserCommands } from "../command/user/commands.js";
import type { UserQueries } from "../query/queries.js";
import { twinService } from "./twin_service.js";
import { userService } from "./user_service.js";

export function userServiceV2beta(users: UserCommands, queries: UserQueries): Partial<ServiceImpl<typeof UserServiceV2beta>> {
  return twinService(UserServiceV2beta, UserService, userService(users, queries));
}
