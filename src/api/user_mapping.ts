/** Proto <-> domain for users. No rules here: only shapes. */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AddHumanUserRequest } from "../../gen/zitadel/user/v2/user_service_pb.js";
import { NotificationType } from "../../gen/zitadel/user/v2/password_pb.js";
import { UserSchema, UserState as ProtoUserState, type User } from "../../gen/zitadel/user/v2/user_pb.js";
import type { AddHumanInput, ResetMedium } from "../command/user/commands.js";
import type { UserState, UserStateName } from "../command/user/events.js";
import type { PasswordResetRequest } from "../../gen/zitadel/user/v2/user_service_pb.js";
import type { ObjectDetails } from "../command/details.js";
import { toDetails } from "./details.js";

export function toAddHumanInput(req: AddHumanUserRequest): AddHumanInput {
  const profile = req.profile!;
  const email = req.email!;
  const org = req.organization?.org;
  return {
    ...(req.userId !== undefined && { userId: req.userId }),
    ...(req.username !== undefined && { username: req.username }),
    ...(org?.case === "orgId" && { orgId: org.value }),
    ...(org?.case === "orgDomain" && { orgDomain: org.value }),
    profile: {
      givenName: profile.givenName,
      familyName: profile.familyName,
      ...(profile.nickName !== undefined && { nickName: profile.nickName }),
      ...(profile.displayName !== undefined && { displayName: profile.displayName }),
      ...(profile.preferredLanguage !== undefined && { preferredLanguage: profile.preferredLanguage }),
      ...(profile.gender !== undefined && { gender: profile.gender }),
    },
    email: { address: email.email, verified: email.verification.case === "isVerified" && email.verification.value },
    ...(req.phone &&
      req.phone.phone !== "" && {
        phone: { number: req.phone.phone, verified: req.phone.verification.case === "isVerified" && req.phone.verification.value },
      }),
    ...(req.passwordType.case === "password" && {
      password: { password: req.passwordType.value.password, changeRequired: req.passwordType.value.changeRequired },
    }),
  };
}

export function toResetMedium(medium: PasswordResetRequest["medium"]): ResetMedium {
  switch (medium.case) {
    case "sendLink":
      return {
        kind: "link",
        medium: medium.value.notificationType === NotificationType.SMS ? "sms" : "email",
        ...(medium.value.urlTemplate !== undefined && { urlTemplate: medium.value.urlTemplate }),
      };
    case "returnCode":
      return { kind: "return" };
    case undefined:
      return { kind: "default" };
  }
}

const STATES: Record<UserStateName, ProtoUserState> = {
  active: ProtoUserState.ACTIVE,
  inactive: ProtoUserState.INACTIVE,
  locked: ProtoUserState.LOCKED,
  deleted: ProtoUserState.DELETED,
};

export function toProtoUser(userId: string, user: UserState, details: ObjectDetails): User {
  const state = STATES[user.state];
  const common = {
    userId,
    state,
    username: user.username,
    loginNames: [user.username],
    preferredLoginName: user.username,
  };
  if (user.kind === "machine") {
    return create(UserSchema, { ...common, details: toDetails(details), type: { case: "machine", value: { name: user.username } } });
  }
  const human = user.human!;
  return create(UserSchema, {
    ...common,
    details: toDetails(details),
    type: {
      case: "human",
      value: {
        ...common,
        profile: { ...human.profile },
        email: { email: human.email.address, isVerified: human.email.verified },
        ...(human.phone && { phone: { phone: human.phone.number, isVerified: human.phone.verified } }),
        passwordChangeRequired: human.passwordChangeRequired,
        ...(user.passwordChangedAt && { passwordChanged: timestampFromDate(user.passwordChangedAt) }),
      },
    },
  });
}
