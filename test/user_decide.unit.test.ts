import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  decideAddHuman,
  decideDeactivate,
  decideLock,
  decidePasswordReset,
  decideReactivate,
  decideRemove,
  decideUnlock,
  type RequestPasswordReset,
} from "../src/command/user/decide.js";
import { UserEvents, foldUser, type HumanAddedPayload } from "../src/command/user/events.js";
import { OPERATOR, checkRoleRank, rankOf, type Principal } from "../src/command/permissions.js";
import { LatchkeyError } from "../src/errors/errors.js";
import { storedUserEvents, type GivenEvent } from "./support/events.js";
import { thrownBy } from "./support/errors.js";

const ORG = "100000000000000001";
const OTHER_ORG = "100000000000000002";
const USER = "200000000000000001";
const iamOwner: Principal = { userId: "300000000000000001", orgId: OTHER_ORG, role: "IAM_OWNER" };
const orgOwner: Principal = { userId: "300000000000000002", orgId: ORG, role: "ORG_OWNER" };
const foreignOrgOwner: Principal = { userId: "300000000000000003", orgId: OTHER_ORG, role: "ORG_OWNER" };

const human: HumanAddedPayload = {
  username: "ada",
  profile: { givenName: "Ada", familyName: "Lovelace" },
  email: { address: "ada@example.com", verified: false },
  passwordChangeRequired: false,
};

let position = 0;
function given(...events: GivenEvent[]): ReturnType<typeof foldUser> {
  const stored = storedUserEvents(events, { userId: USER, orgId: ORG, startAt: 1_700_000_000_000, stepMs: 1000, editor: "test", firstPosition: position + 1 });
  position += events.length;
  return foldUser(stored);
}

const added = { type: UserEvents.humanAdded, payload: { ...human } };

function reset(principal: Principal, extra: Partial<RequestPasswordReset> = {}): RequestPasswordReset {
  return { principal, userId: USER, encryptedCode: "sealed", expiresAt: 42, medium: "email", returnCode: false, ...extra };
}

const errorOf = (fn: () => unknown): LatchkeyError => thrownBy(fn, LatchkeyError);

describe("fold", () => {
  it("a fresh user is at sequence 1 in its organization", () => {
    const state = given(added);
    expect(state).toMatchObject({ exists: true, kind: "human", orgId: ORG, sequence: 1, state: "active" });
  });

  it("a newer code replaces the older one", () => {
    const state = given(
      added,
      { type: UserEvents.passwordCodeAdded, payload: { code: "first", expiresAt: 1, medium: "email", codeReturned: true } },
      { type: UserEvents.passwordCodeAdded, payload: { code: "second", expiresAt: 2, medium: "email", codeReturned: true } },
    );
    expect(state.pendingCode).toEqual({ encrypted: "second", expiresAt: 2, sequence: 3 });
  });

  it("ignores event types it does not know", () => {
    expect(given(added, { type: "user.something.else" })).toMatchObject({ sequence: 2, state: "active" });
  });
});

describe("add human", () => {
  it("appends exactly one human.added event", () => {
    const events = decideAddHuman(given(), { principal: orgOwner, orgId: ORG, human });
    expect(events.map((e) => e.type)).toEqual([UserEvents.humanAdded]);
  });

  it("an existing id is AlreadyExists", () => {
    expect(errorOf(() => decideAddHuman(given(added), { principal: orgOwner, orgId: ORG, human })).code).toBe(Code.AlreadyExists);
  });

  it("an ORG_OWNER cannot add users to another organization", () => {
    expect(errorOf(() => decideAddHuman(given(), { principal: foreignOrgOwner, orgId: ORG, human })).id).toBe("AUTHZ-HKJD33");
  });
});

describe("password reset", () => {
  it("records the encrypted code, medium, template and whether it was returned", () => {
    const [event] = decidePasswordReset(given(added), reset(iamOwner, { medium: "sms", urlTemplate: "x{{.Code}}", returnCode: false }));
    expect(event).toEqual({
      type: UserEvents.passwordCodeAdded,
      payload: { code: "sealed", expiresAt: 42, medium: "sms", urlTemplate: "x{{.Code}}", codeReturned: false },
      editor: iamOwner.userId,
    });
  });

  it("an unknown user is NotFound", () => {
    const err = errorOf(() => decidePasswordReset(given(), reset(iamOwner)));
    expect([err.code, err.id, err.key]).toEqual([Code.NotFound, "COMMAND-SAF4f", "Errors.User.NotFound"]);
  });

  it("a deleted user is NotFound", () => {
    const err = errorOf(() => decidePasswordReset(given(added, { type: UserEvents.removed }), reset(iamOwner)));
    expect(err.id).toBe("COMMAND-SAF4f");
  });

  it("NotFound is reported before PermissionDenied", () => {
    expect(errorOf(() => decidePasswordReset(given(), reset(foreignOrgOwner))).code).toBe(Code.NotFound);
  });

  it("an owner of another organization is PermissionDenied", () => {
    const err = errorOf(() => decidePasswordReset(given(added), reset(foreignOrgOwner)));
    expect([err.code, err.id]).toEqual([Code.PermissionDenied, "AUTHZ-HKJD33"]);
  });

  it("locked and deactivated users can still reset", () => {
    expect(decidePasswordReset(given(added, { type: UserEvents.locked }), reset(orgOwner))).toHaveLength(1);
    expect(decidePasswordReset(given(added, { type: UserEvents.deactivated }), reset(orgOwner))).toHaveLength(1);
  });

  it("a machine user is NotFound", () => {
    const machine = { type: UserEvents.machineAdded, payload: { username: "bot", name: "bot", description: "", role: "ORG_OWNER" } };
    expect(errorOf(() => decidePasswordReset(given(machine), reset(iamOwner))).code).toBe(Code.NotFound);
  });
});

describe("lock and remove", () => {
  it("locking a locked user is FailedPrecondition", () => {
    expect(errorOf(() => decideLock(given(added, { type: UserEvents.locked }), orgOwner, USER)).code).toBe(Code.FailedPrecondition);
  });

  it("removing a removed user is NotFound", () => {
    expect(errorOf(() => decideRemove(given(added, { type: UserEvents.removed }), orgOwner, USER)).code).toBe(Code.NotFound);
  });
});

describe("unlock and reactivate", () => {
  const locked = { type: UserEvents.locked };
  const deactivated = { type: UserEvents.deactivated };

  it("unlocking a locked user makes it active, and its failed checks count from zero", () => {
    const events = decideUnlock(given(added, { type: UserEvents.passwordCheckFailed }, locked), orgOwner, USER);
    expect(events).toEqual([{ type: UserEvents.unlocked, payload: {}, editor: orgOwner.userId }]);
    const state = given(added, { type: UserEvents.passwordCheckFailed }, locked, events[0]!);
    expect(state.state).toBe("active");
    expect(state.failedChecks).toBeUndefined();
  });

  it("unlocking a user that is not locked is FailedPrecondition COMMAND-4M0ds", () => {
    const err = errorOf(() => decideUnlock(given(added), orgOwner, USER));
    expect([err.code, err.id, err.key]).toEqual([Code.FailedPrecondition, "COMMAND-4M0ds", "Errors.User.NotLocked"]);
    expect(errorOf(() => decideUnlock(given(added, deactivated), orgOwner, USER)).id).toBe("COMMAND-4M0ds");
  });

  it("reactivating a deactivated user makes it active", () => {
    const events = decideReactivate(given(added, deactivated), orgOwner, USER);
    expect(events).toEqual([{ type: UserEvents.reactivated, payload: {}, editor: orgOwner.userId }]);
    expect(given(added, deactivated, events[0]!).state).toBe("active");
  });

  it("reactivating a user that is not deactivated is FailedPrecondition COMMAND-6M0sf", () => {
    const err = errorOf(() => decideReactivate(given(added, locked), orgOwner, USER));
    expect([err.code, err.id, err.key]).toEqual([Code.FailedPrecondition, "COMMAND-6M0sf", "Errors.User.NotInactive"]);
  });

  it("an unknown or deleted user is NotFound with ZITADEL's ids; another organization's owner is PermissionDenied", () => {
    expect(errorOf(() => decideUnlock(given(), orgOwner, USER)).id).toBe("COMMAND-M0dos");
    expect(errorOf(() => decideReactivate(given(added, { type: UserEvents.removed }), orgOwner, USER)).id).toBe("COMMAND-4M0sd");
    expect(errorOf(() => decideUnlock(given(added, locked), foreignOrgOwner, USER)).id).toBe("AUTHZ-HKJD33");
  });
});

describe("roles by rank", () => {
  const bot = (role: "IAM_OWNER" | "ORG_OWNER") => ({ type: UserEvents.machineAdded, payload: { username: "bot", name: "bot", description: "", role } });

  it("rank IAM_OWNER above ORG_OWNER above no role", () => {
    expect([rankOf("IAM_OWNER"), rankOf("ORG_OWNER"), rankOf(undefined)]).toEqual([2, 1, 0]);
    expect(() => checkRoleRank(orgOwner, "IAM_OWNER")).toThrow(LatchkeyError);
    expect(() => checkRoleRank(orgOwner, "ORG_OWNER")).not.toThrow();
    expect(() => checkRoleRank(orgOwner, undefined)).not.toThrow();
    expect(() => checkRoleRank(iamOwner, "IAM_OWNER")).not.toThrow();
  });

  it.each([
    ["lock", (p: Principal, events: GivenEvent[]) => decideLock(given(...events), p, USER), []],
    ["deactivate", (p: Principal, events: GivenEvent[]) => decideDeactivate(given(...events), p, USER), []],
    ["delete", (p: Principal, events: GivenEvent[]) => decideRemove(given(...events), p, USER), []],
    ["unlock", (p: Principal, events: GivenEvent[]) => decideUnlock(given(...events), p, USER), [{ type: UserEvents.locked }]],
    ["reactivate", (p: Principal, events: GivenEvent[]) => decideReactivate(given(...events), p, USER), [{ type: UserEvents.deactivated }]],
  ] as const)("%s: an ORG_OWNER cannot act on an IAM_OWNER of its organization; an IAM_OWNER and the operator can", (_name, decide, after) => {
    const err = errorOf(() => decide(orgOwner, [bot("IAM_OWNER"), ...after]));
    expect([err.code, err.id, err.key]).toEqual([Code.PermissionDenied, "AUTHZ-R4nk1", "Errors.PermissionDenied"]);
    expect(decide(iamOwner, [bot("IAM_OWNER"), ...after])).toHaveLength(1);
    expect(decide(OPERATOR, [bot("IAM_OWNER"), ...after])[0]!.editor).toBe("system");
    expect(decide(orgOwner, [bot("ORG_OWNER"), ...after])).toHaveLength(1);
  });
});
