import type { RequestOrigin } from "../../http/origin.js";
import { codesEqual, generateCode } from "../../crypto/codes.js";
import { newId } from "../../crypto/ids.js";
import { alreadyExists, invalidArgument, notFound } from "../../errors/errors.js";
import { UniqueConstraintError } from "../../eventstore/eventstore.js";
import type { CommandDeps } from "../deps.js";
import { detailsOf, type ObjectDetails } from "../details.js";
import { execute, type Decision } from "../execute.js";
import { ORG_AGGREGATE, orgModel } from "../org/events.js";
import { readPasswordPolicies } from "../org/password_policy.js";
import type { PasswordPolicy } from "../password_policy.js";
import { checkNewPassword, type CheckedPassword, type PasswordOwner } from "../password_rules/new_password.js";
import { PasswordRejectedError } from "../password_rules/rejection.js";
import { passwordExpired, type PasswordRulesPolicy } from "../password_rules/policy.js";
import { checkPermission, type Principal } from "../permissions.js";
import { UrlTemplateError, checkUrlTemplate } from "../url_template.js";
import {
  checkPasswordProof,
  decideAddHuman,
  decideDeactivate,
  decideLock,
  decidePasswordReset,
  decideReactivate,
  decideRemove,
  decideResetLink,
  decideSetPassword,
  decideUnlock,
  requireCurrentPasswordCheckable,
  type PasswordProof,
  type RequestPasswordReset,
  type SetPassword,
} from "./decide.js";
import {
  USER_AGGREGATE,
  userModel,
  type HumanProfile,
  type NotificationMedium,
  type UserState,
} from "./events.js";
import { SetPasswordErrorIds } from "./set_password_errors.js";

const userRef = (id: string) => ({ type: USER_AGGREGATE, id });

export function usernameConstraint(orgId: string, username: string) {
  return { kind: "username", value: `${orgId}:${username.toLowerCase()}` };
}

/**
 * Leads from an email address in an organization to its users. Only ASCII
 * letters are lowercased, as SQLite's lower() does in the migration that
 * filled the lookup for users created before it.
 */
export function emailLookup(orgId: string, address: string) {
  return { kind: "email", value: `${orgId}:${address.replace(/[A-Z]+/g, (s) => s.toLowerCase())}` };
}

export interface AddHumanInput {
  userId?: string;
  username?: string;
  orgId?: string;
  orgDomain?: string;
  profile: HumanProfile;
  email: { address: string; verified: boolean };
  phone?: { number: string; verified: boolean };
  password?: { password: string; changeRequired: boolean };
}

export type ResetMedium =
  /** email with the hosted page's link; `linkParams` are added to the link's query */
  | { kind: "default"; linkParams?: Readonly<Record<string, string>> }
  | { kind: "link"; medium: NotificationMedium; urlTemplate?: string }
  | { kind: "return" };

/** How the caller proves it may set the password (see decideSetPassword). */
export type SetPasswordVerification =
  | { kind: "code"; code: string }
  /** the caller needs user.write on the user as well */
  | { kind: "currentPassword"; password: string; principal: Principal }
  | { kind: "permission"; principal: Principal };

/** What the hosted page may show for a reset link. */
export type ResetLink =
  | { kind: "valid"; policy: PasswordPolicy; rules: PasswordRulesPolicy }
  /** the code is right, but the user is locked */
  | { kind: "locked" }
  /** unknown user, no code pending, expired, invalidated or wrong: all alike */
  | { kind: "invalid" };

/** Who sent a SetPassword request and from where, for the events it causes. */
export interface SetPasswordRequest {
  origin?: RequestOrigin;
  /** the request's token, if it had one */
  principal?: Principal;
}

export interface NewPassword {
  password: string;
  changeRequired: boolean;
}

export function createUserCommands(deps: CommandDeps) {
  const { store, aggregates } = deps;

  async function resolveOrg(principal: Principal, input: AddHumanInput): Promise<string> {
    if (input.orgDomain !== undefined) {
      throw invalidArgument("COMMAND-0rgD1", "Errors.Org.DomainNotSupported", "Selecting the organization by domain is not supported; use org_id");
    }
    const orgId = input.orgId ?? principal.orgId;
    const org = await aggregates.load({ type: ORG_AGGREGATE, id: orgId }, orgModel);
    if (!org.exists) throw notFound("COMMAND-Ig1cp", "Errors.Org.NotFound", "Organization could not be found");
    return orgId;
  }

  async function addHumanUser(principal: Principal, input: AddHumanInput) {
    // 0. keys that PostgreSQL could not store, refused on every database alike
    if ([input.userId, input.username].some((key) => key?.includes("\0"))) {
      throw invalidArgument("COMMAND-Nul0k", "Errors.User.Invalid", "user_id and username must not contain NUL characters");
    }
    // 1. the organization the user will belong to
    const orgId = await resolveOrg(principal, input);
    const userId = input.userId ?? newId();
    const username = input.username ?? input.email.address;
    // 2. the organization's policies, then the hash, outside the aggregate lock: it is the slow part
    let passwordHash: string | undefined;
    if (input.password) {
      const owner: PasswordOwner = { person: personOf(username, input.email.address, input.profile), history: [] };
      const checked = await checkNewPassword(deps, await readPasswordPolicies(aggregates, orgId), owner, input.password.password);
      if (!checked.ok) throw new PasswordRejectedError(checked.violations);
      passwordHash = checked.hash;
    }
    // 3. decide and append; the username is claimed in the same transaction
    try {
      const { stored } = await execute(aggregates, userRef(userId), userModel, (state) => ({
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

  async function getUserByID(principal: Principal, userId: string): Promise<{ user: UserState; details: ObjectDetails }> {
    const user = await aggregates.load(userRef(userId), userModel);
    if (!user.exists || user.state === "deleted") {
      throw notFound("QUERY-Bn3Ah", "Errors.User.NotFound", "User could not be found");
    }
    checkPermission(principal, "user.read", { orgId: user.orgId, userId });
    // a password older than the organization allows must be changed
    const { rules } = await readPasswordPolicies(aggregates, user.orgId);
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

  async function change(userId: string, decide: (state: UserState) => Decision): Promise<ObjectDetails> {
    const { state, stored } = await execute(aggregates, userRef(userId), userModel, decide);
    return detailsOf(stored[stored.length - 1]!, state.createdAt);
  }

  async function requestPasswordReset(principal: Principal, userId: string, medium: ResetMedium, origin?: RequestOrigin) {
    // 1. the template is checked before the user is looked up
    const urlTemplate = medium.kind === "link" ? medium.urlTemplate : undefined;
    if (urlTemplate !== undefined) checkTemplate(urlTemplate);
    // 2. a fresh code, kept only encrypted
    const code = generateCode(deps.codes.length);
    const now = deps.clock();
    const cmd: RequestPasswordReset = {
      principal,
      userId,
      encryptedCode: deps.cipher.encrypt(code),
      expiresAt: now.getTime() + deps.codes.ttlMs,
      medium: medium.kind === "link" ? medium.medium : "email",
      ...(urlTemplate !== undefined && { urlTemplate }),
      ...(medium.kind === "default" && medium.linkParams && { linkParams: medium.linkParams }),
      returnCode: medium.kind === "return",
      ...(origin && { origin }),
    };
    // 3. existence, permission, event
    const { state, stored } = await execute(aggregates, userRef(userId), userModel, (s) => ({
      events: decidePasswordReset(s, cmd),
    }));
    const details = detailsOf(stored[stored.length - 1]!, state.createdAt);
    return { details, ...(medium.kind === "return" && { code }) };
  }

  /**
   * Starts a reset with the default medium for each user of the organization
   * with this email address, on behalf of `actor` (who is recorded as the
   * editor) from `origin`; returns how many were started. Without a user it
   * still makes and encrypts a code, so that both cases do about the same work.
   */
  async function requestPasswordResetByEmail(
    actor: string,
    orgId: string,
    email: string,
    linkParams?: Readonly<Record<string, string>>,
    origin?: RequestOrigin,
    /** asked for each user before the resets (a rate limit): a user it refuses gets no code and no message */
    mayReset: (userId: string) => Promise<boolean> = async () => true,
  ): Promise<number> {
    const userIds: string[] = [];
    for (const userId of await store.findLookup(emailLookup(orgId, email))) if (await mayReset(userId)) userIds.push(userId);
    if (userIds.length === 0) {
      deps.cipher.encrypt(generateCode(deps.codes.length));
      return 0;
    }
    const principal: Principal = { userId: actor, orgId, role: "ORG_OWNER" };
    for (const userId of userIds) {
      await requestPasswordReset(principal, userId, { kind: "default", ...(linkParams && { linkParams }) }, origin);
    }
    return userIds.length;
  }

  /**
   * Outside the aggregate lock, on the state as read: the organization's
   * policies, the proof (the code compared, or the current password verified
   * once nothing else refuses the call), and only when the proof holds, the
   * policy check and the hash. In the lock the same rules decide again on
   * fresh state, so a wrong code or password is counted exactly once.
   */
  async function setPassword(
    userId: string,
    newPassword: NewPassword | undefined,
    verification: SetPasswordVerification,
    request: SetPasswordRequest = {},
  ): Promise<ObjectDetails> {
    if (!newPassword || newPassword.password === "") {
      throw invalidArgument(SetPasswordErrorIds.passwordEmpty, "Errors.User.Password.Empty", "The new password must not be empty");
    }
    const before = await aggregates.load(userRef(userId), userModel);
    const policies = await readPasswordPolicies(aggregates, before.orgId);
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
    const proof = await toProof(userId, before, verification);
    const checked = checkPasswordProof(before, command(proof)).holds ? await checkNewPassword(deps, policies, ownerOf(before), newPassword.password) : undefined;
    let rejection: Error | undefined;
    const { state, stored } = await execute(aggregates, userRef(userId), userModel, (s) => {
      const verdict = decideSetPassword(s, command(proof, checked));
      rejection = verdict.rejection;
      return { events: verdict.events };
    });
    if (rejection) throw rejection;
    return detailsOf(stored[stored.length - 1]!, state.createdAt);
  }

  /** The encrypted pending code the given one matches (decrypted, compared in constant time), if any. */
  function matchPendingCode(user: UserState, given: string): string | undefined {
    const pending = user.kind === "human" && user.state !== "deleted" ? user.pendingCode : undefined;
    return pending && codesEqual(deps.cipher.decrypt(pending.encrypted), given) ? pending.encrypted : undefined;
  }

  async function toProof(userId: string, user: UserState, verification: SetPasswordVerification): Promise<PasswordProof> {
    switch (verification.kind) {
      case "code":
        return { kind: "code", verifiedCode: matchPendingCode(user, verification.code) };
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

  /**
   * The hosted page's check of its link: valid, with the policy the new
   * password must meet, or not. A wrong code is recorded and counted as in
   * SetPassword, so the page is no way around the limits.
   */
  async function checkResetLink(userId: string, code: string, origin?: RequestOrigin): Promise<ResetLink> {
    const before = await aggregates.load(userRef(userId), userModel);
    const policies = await readPasswordPolicies(aggregates, before.orgId);
    const verifiedCode = matchPendingCode(before, code);
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
      await execute(aggregates, userRef(userId), userModel, (s) => {
        const verdict = check(s);
        return { events: verdict.valid ? [] : verdict.events };
      });
    }
    return { kind: "invalid" };
  }

  return {
    addHumanUser,
    getUserByID,
    lockUser: (p: Principal, id: string) => change(id, (s) => ({ events: decideLock(s, p, id) })),
    deactivateUser: (p: Principal, id: string) => change(id, (s) => ({ events: decideDeactivate(s, p, id) })),
    deleteUser: (p: Principal, id: string) =>
      change(id, (s) => ({
        events: decideRemove(s, p, id),
        removeUnique: [usernameConstraint(s.orgId, s.username)],
        ...(s.human && { removeLookup: [emailLookup(s.orgId, s.human.email.address)] }),
      })),
    unlockUser: (p: Principal, id: string) => change(id, (s) => ({ events: decideUnlock(s, p, id) })),
    reactivateUser: (p: Principal, id: string) => change(id, (s) => ({ events: decideReactivate(s, p, id) })),
    requestPasswordReset,
    requestPasswordResetByEmail,
    setPassword,
    checkResetLink,
  };
}

export type UserCommands = ReturnType<typeof createUserCommands>;

function personOf(username: string, email: string, profile: HumanProfile) {
  return { username, email, givenName: profile.givenName, familyName: profile.familyName };
}

/** What the password rules need of a user. */
function ownerOf(user: UserState): PasswordOwner {
  const human = user.human;
  return {
    person: personOf(user.username, human?.email.address ?? "", human?.profile ?? { givenName: "", familyName: "" }),
    history: user.passwordHistory ?? [],
  };
}

function checkTemplate(template: string): void {
  try {
    checkUrlTemplate(template);
  } catch (err) {
    if (!(err instanceof UrlTemplateError)) throw err;
    if (err.problem === "scheme") {
      throw invalidArgument("DOMAIN-Lk7sc", "Errors.User.InvalidURLTemplate", `The URL template is not allowed: ${err.message}`);
    }
    throw invalidArgument("DOMAIN-oGh5e", "Errors.User.InvalidURLTemplate", `The URL template is invalid: ${err.message}`);
  }
}
