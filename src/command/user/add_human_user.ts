/** AddHumanUser: a person in an organization, with a unique username and, if given, a password that meets the policies. */
import { newId } from "../../crypto/ids.js";
import { alreadyExists, invalidArgument, notFound } from "../../errors/errors.js";
import { UniqueConstraintError } from "../../eventstore/eventstore.js";
import type { CommandDeps } from "../deps.js";
import { detailsOf } from "../details.js";
import { execute } from "../execute.js";
import { ORG_AGGREGATE, orgModel } from "../org/events.js";
import { readPasswordPolicies } from "../org/password_policy.js";
import { checkNewPassword, type PasswordOwner } from "../password_rules/new_password.js";
import { PasswordRejectedError } from "../password_rules/rejection.js";
import type { Principal } from "../permissions.js";
import { decideAddHuman } from "./decide.js";
import { userModel } from "./events.js";
import { emailLookup, userRef, usernameConstraint, type AddHumanInput } from "./inputs.js";
import { personOf } from "./password_owner.js";

async function resolveOrg(deps: CommandDeps, principal: Principal, input: AddHumanInput): Promise<string> {
  if (input.orgDomain !== undefined) {
    throw invalidArgument("COMMAND-0rgD1", "Errors.Org.DomainNotSupported", "Selecting the organization by domain is not supported; use org_id");
  }
  const orgId = input.orgId ?? principal.orgId;
  const org = await deps.aggregates.load({ type: ORG_AGGREGATE, id: orgId }, orgModel);
  if (!org.exists) throw notFound("COMMAND-Ig1cp", "Errors.Org.NotFound", "Organization could not be found");
  return orgId;
}

export async function addHumanUser(deps: CommandDeps, principal: Principal, input: AddHumanInput) {
  // 0. keys that PostgreSQL could not store, refused on every database alike
  if ([input.userId, input.username].some((key) => key?.includes("\0"))) {
    throw invalidArgument("COMMAND-Nul0k", "Errors.User.Invalid", "user_id and username must not contain NUL characters");
  }
  // 1. the organization the user will belong to
  const orgId = await resolveOrg(deps, principal, input);
  const userId = input.userId ?? newId();
  const username = input.username ?? input.email.address;
  // 2. the organization's policies, then the hash, outside the aggregate lock: it is the slow part
  let passwordHash: string | undefined;
  if (input.password) {
    const owner: PasswordOwner = { person: personOf(username, input.email.address, input.profile), history: [] };
    const checked = await checkNewPassword(deps, await readPasswordPolicies(deps.aggregates, orgId), owner, input.password.password);
    if (!checked.ok) throw new PasswordRejectedError(checked.violations);
    passwordHash = checked.hash;
  }
  // 3. decide and append; the username is claimed in the same transaction
  try {
    const { stored } = await execute(deps.aggregates, userRef(userId), userModel, (state) => ({
      events: decideAddHuman(state, {
        principal,
        orgId,
        human: {
          username,
          profile: input.profile,
          email: input.email,
          ...(input.phone && { phone: input.phone }),
          ...(passwordHash !== undefined && { passwordHash }),
          passwordChangeRequired: input.password?.changeRequired ?? false,
        },
      }),
      resourceOwner: orgId,
      addUnique: [usernameConstraint(orgId, username)],
      addLookup: [emailLookup(orgId, input.email.address)],
    }));
    const last = stored[stored.length - 1]!;
    return { userId, details: detailsOf(last, last.createdAt) };
  } catch (err) {
    if (err instanceof UniqueConstraintError) {
      throw alreadyExists("COMMAND-Uq1x3", "Errors.User.AlreadyExists", "A user with this username already exists in the organization");
    }
    throw err;
  }
}
