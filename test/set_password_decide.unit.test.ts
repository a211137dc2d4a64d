/** SetPassword rules: given the user's events, when SetPassword, then events or an error. */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Principal } from "../src/command/permissions.js";
import {
  checkPasswordProof,
  decideResetLink,
  decideSetPassword,
  type PasswordProof,
  type ResetLinkCheck,
  type SetPassword,
  type Verdict,
} from "../src/command/user/decide_password.js";
import { UserEvents, foldUser, type HumanAddedPayload, type UserState } from "../src/command/user/events.js";
import type { Violation } from "../src/command/password_rules/check.js";
import { LatchkeyError } from "../src/errors/errors.js";
import { storedUserEvents, type GivenEvent } from "./support/events.js";
import { thrownBy } from "./support/errors.js";

const ORG = "100000000000000001";
const USER = "200000000000000001";
const NOW = 1_700_000_000_000;
const DIGIT_MISSING: Violation = { rule: "complexity", id: "COMMAND-Pw7cx", key: "Errors.User.PasswordComplexityPolicy.NotMet", text: "it needs a digit" };
const orgOwner: Principal = { userId: "300000000000000002", orgId: ORG, role: "ORG_OWNER" };
const foreignOwner: Principal = { userId: "300000000000000003", orgId: "100000000000000002", role: "ORG_OWNER" };

const human: HumanAddedPayload = {
  username: "ada",
  profile: { givenName: "Ada", familyName: "Lovelace" },
  email: { address: "ada@example.com", verified: false },
  passwordHash: "$argon2id$old",
  passwordChangeRequired: false,
};

type Given = GivenEvent;

const given = (...events: Given[]): UserState =>
  foldUser(storedUserEvents(events, { userId: USER, orgId: ORG, startAt: NOW - 60_000, stepMs: 1, editor: "test" }));

const added: Given = { type: UserEvents.humanAdded, payload: { ...human } };
/** a pending code: "sealed:<code>" stands in for the encryption */
const codeAdded = (code: string, expiresAt = NOW + 3_600_000): Given => ({
  type: UserEvents.passwordCodeAdded,
  payload: { code: `sealed:${code}`, expiresAt, medium: "email", codeReturned: true },
});

const checkFailed: Given = { type: UserEvents.passwordCodeCheckFailed };
const passwordCheckFailed: Given = { type: UserEvents.passwordCheckFailed };
const locked: Given = { type: UserEvents.locked };

/**
 * The code given, as the commands hand it over: the pending (sealed) code it
 * matched, or, for a code that matches none, a sealed value nothing pending equals.
 */
const byCode = (code: string): PasswordProof => ({ kind: "code", verifiedCode: `sealed:${code}` });

function when(proof: PasswordProof, extra: Partial<SetPassword> = {}): SetPassword {
  return {
    userId: USER,
    proof,
    newPassword: { ok: true, hash: "$argon2id$new" },
    changeRequired: false,
    now: NOW,
    maxCodeAttempts: 5,
    maxPasswordAttempts: 10,
    ...extra,
  };
}

const errorOf = (fn: () => unknown): LatchkeyError => thrownBy(fn, LatchkeyError);

const changed = (editor = USER, changeRequired = false) => ({
  type: UserEvents.passwordChanged,
  payload: { passwordHash: "$argon2id$new", changeRequired },
  editor,
});

describe("SetPassword with a verification code", () => {
  it("the right code changes the password", () => {
    expect(decideSetPassword(given(added, codeAdded("ABC123")), when(byCode("ABC123")))).toEqual({ events: [changed()] });
  });

  it("records change_required", () => {
    const verdict = decideSetPassword(given(added, codeAdded("ABC123")), when(byCode("ABC123"), { changeRequired: true }));
    expect(verdict.events).toEqual([changed(USER, true)]);
  });

  it("the code is single use: once the password changed, no code is pending", () => {
    const state = given(added, codeAdded("ABC123"), changed());
    expect(state.pendingCode).toBeUndefined();
    expect(state.passwordHash).toBe("$argon2id$new");
    const err = errorOf(() => decideSetPassword(state, when(byCode("ABC123"))));
    expect([err.code, err.id, err.key]).toEqual([Code.FailedPrecondition, "COMMAND-2M9fs", "Errors.User.Code.NotFound"]);
  });

  it("a newer code replaces the older one", () => {
    const state = given(added, codeAdded("FIRST1"), codeAdded("SECOND"));
    expect(decideSetPassword(state, when(byCode("FIRST1"))).rejection?.id).toBe("CODE-woT0xc");
    expect(decideSetPassword(state, when(byCode("SECOND"))).events).toEqual([changed()]);
  });

  it("no code pending is FailedPrecondition COMMAND-2M9fs", () => {
    expect(errorOf(() => decideSetPassword(given(added), when(byCode("ABC123")))).id).toBe("COMMAND-2M9fs");
  });

  it.each([
    ["unknown", []],
    ["deleted", [added, codeAdded("ABC123"), { type: UserEvents.removed }]],
    ["machine", [{ type: UserEvents.machineAdded, payload: { username: "bot", name: "bot", description: "", role: "ORG_OWNER" } }]],
  ] as Array<[string, Given[]]>)("a %s user is FailedPrecondition COMMAND-2M9fs, like a missing code", (_kind, events) => {
    expect(errorOf(() => decideSetPassword(given(...events), when(byCode("ABC123")))).id).toBe("COMMAND-2M9fs");
  });

  it("an expired code is FailedPrecondition CODE-QvUQ4P, even when it is right", () => {
    const err = errorOf(() => decideSetPassword(given(added, codeAdded("ABC123", NOW - 1)), when(byCode("ABC123"))));
    expect([err.code, err.id, err.key]).toEqual([Code.FailedPrecondition, "CODE-QvUQ4P", "Errors.User.Code.Expired"]);
  });

  it("a code is still valid at its expiry instant", () => {
    expect(decideSetPassword(given(added, codeAdded("ABC123", NOW)), when(byCode("ABC123"))).events).toEqual([changed()]);
  });

  it("a wrong code is InvalidArgument CODE-woT0xc and is recorded", () => {
    const verdict = decideSetPassword(given(added, codeAdded("ABC123")), when(byCode("abc123")));
    expect(verdict.events).toEqual([{ type: UserEvents.passwordCodeCheckFailed, payload: {}, editor: USER }]);
    expect([verdict.rejection?.code, verdict.rejection?.id, verdict.rejection?.key]).toEqual([
      Code.InvalidArgument,
      "CODE-woT0xc",
      "Errors.User.Code.Invalid",
    ]);
  });

  it("the fifth wrong code also invalidates the code", () => {
    const state = given(added, codeAdded("ABC123"), checkFailed, checkFailed, checkFailed, checkFailed);
    expect(state.pendingCode?.failedAttempts).toBe(4);
    const verdict: Verdict = decideSetPassword(state, when(byCode("WRONG1")));
    expect(verdict.events).toEqual([
      { type: UserEvents.passwordCodeCheckFailed, payload: {}, editor: USER },
      { type: UserEvents.passwordCodeInvalidated, payload: { failedAttempts: 5 }, editor: USER },
    ]);
    expect(verdict.rejection?.id).toBe("CODE-woT0xc");
  });

  it("after the code was invalidated, even the right code is FailedPrecondition asking for a new reset", () => {
    const state = given(added, codeAdded("ABC123"), checkFailed, { type: UserEvents.passwordCodeInvalidated, payload: { failedAttempts: 1 } });
    const err = errorOf(() => decideSetPassword(state, when(byCode("ABC123"))));
    expect([err.code, err.id, err.key]).toEqual([Code.FailedPrecondition, "CODE-Tm4tA", "Errors.User.Code.TooManyAttempts"]);
    expect(err.text).toMatch(/request a new password reset/i);
  });

  it("a new reset after invalidation starts over with a fresh count", () => {
    const state = given(
      added,
      codeAdded("ABC123"),
      checkFailed,
      { type: UserEvents.passwordCodeInvalidated, payload: { failedAttempts: 1 } },
      codeAdded("NEW123"),
    );
    expect(state.codeInvalidated).toBeUndefined();
    expect(state.pendingCode?.failedAttempts).toBeUndefined();
    expect(decideSetPassword(state, when(byCode("NEW123"))).events).toEqual([changed()]);
  });

  it("the attempt limit comes from the command", () => {
    const verdict = decideSetPassword(given(added, codeAdded("ABC123")), when(byCode("WRONG1"), { maxCodeAttempts: 1 }));
    expect(verdict.events.map((e) => e.type)).toEqual([UserEvents.passwordCodeCheckFailed, UserEvents.passwordCodeInvalidated]);
  });

  it("a password against the policy is InvalidArgument and leaves the code untouched", () => {
    const err = errorOf(() =>
      decideSetPassword(given(added, codeAdded("ABC123")), when(byCode("ABC123"), { newPassword: { ok: false, violations: [DIGIT_MISSING] } })),
    );
    expect([err.code, err.id]).toEqual([Code.InvalidArgument, "COMMAND-Pw7cx"]);
    expect(err.text).toContain("a digit");
  });

  it("a wrong code is reported before the policy", () => {
    const verdict = decideSetPassword(given(added, codeAdded("ABC123")), when(byCode("WRONG1"), { newPassword: { ok: false, violations: [DIGIT_MISSING] } }));
    expect(verdict.rejection?.id).toBe("CODE-woT0xc");
  });

  it("a deactivated user can complete a reset", () => {
    expect(decideSetPassword(given(added, { type: UserEvents.deactivated }, codeAdded("ABC123")), when(byCode("ABC123"))).events).toHaveLength(1);
  });

  it("a locked user cannot, even with the right code: FailedPrecondition COMMAND-JLK35", () => {
    const err = errorOf(() => decideSetPassword(given(added, locked, codeAdded("ABC123")), when(byCode("ABC123"))));
    expect([err.code, err.id, err.key]).toEqual([Code.FailedPrecondition, "COMMAND-JLK35", "Errors.User.Locked"]);
  });

  it("a code that matched nothing when read is wrong, whatever is pending now", () => {
    const verdict = decideSetPassword(given(added, codeAdded("ABC123")), when({ kind: "code", verifiedCode: undefined }));
    expect(verdict.rejection?.id).toBe("CODE-woT0xc");
  });
});

describe("wrong codes and the lockout policy", () => {
  it("a wrong code that reaches the limit also locks the user, in the same append", () => {
    const state = given(added, codeAdded("ABC123"), passwordCheckFailed, passwordCheckFailed);
    expect(state.failedChecks).toBe(2);
    const verdict = decideSetPassword(state, when(byCode("WRONG1"), { maxPasswordAttempts: 3 }));
    expect(verdict.events).toEqual([
      { type: UserEvents.passwordCodeCheckFailed, payload: {}, editor: USER },
      { type: UserEvents.locked, payload: { failedAttempts: 3 }, editor: USER },
    ]);
    expect(verdict.rejection?.id).toBe("CODE-woT0xc");
  });

  it("failed checks of earlier codes count too; the code's own limit invalidates first", () => {
    const state = given(added, codeAdded("FIRST1"), checkFailed, checkFailed, checkFailed, checkFailed, codeAdded("SECOND"));
    expect(state.failedChecks).toBe(4);
    const verdict = decideSetPassword(state, when(byCode("WRONG1"), { maxCodeAttempts: 1, maxPasswordAttempts: 5 }));
    expect(verdict.events.map((e) => e.type)).toEqual([UserEvents.passwordCodeCheckFailed, UserEvents.passwordCodeInvalidated, UserEvents.locked]);
  });

  it("a locked user's wrong code is still recorded, without a second lock", () => {
    const verdict = decideSetPassword(given(added, codeAdded("ABC123"), locked), when(byCode("WRONG1"), { maxPasswordAttempts: 1 }));
    expect(verdict.events.map((e) => e.type)).toEqual([UserEvents.passwordCodeCheckFailed]);
  });
});

describe("SetPassword with the current password", () => {
  const current = (verifiedHash: string | undefined, principal: Principal = orgOwner): PasswordProof => ({ kind: "currentPassword", principal, verifiedHash });
  const wrongPassword = (editor = orgOwner.userId) => ({ type: UserEvents.passwordCheckFailed, payload: {}, editor });

  it("a password verified against the current hash changes it, with the caller as editor", () => {
    expect(decideSetPassword(given(added), when(current("$argon2id$old")))).toEqual({ events: [changed(orgOwner.userId)] });
  });

  it("a wrong current password is InvalidArgument COMMAND-3M0fs and is recorded", () => {
    const verdict = decideSetPassword(given(added), when(current(undefined)));
    expect(verdict.events).toEqual([wrongPassword()]);
    expect([verdict.rejection?.code, verdict.rejection?.id, verdict.rejection?.key]).toEqual([Code.InvalidArgument, "COMMAND-3M0fs", "Errors.User.Password.Invalid"]);
  });

  it("a password verified against a hash that has changed since is wrong", () => {
    const verdict = decideSetPassword(given(added, changed()), when(current("$argon2id$old")));
    expect(verdict.rejection?.id).toBe("COMMAND-3M0fs");
    expect(verdict.events).toEqual([wrongPassword()]);
  });

  it("an unknown user looks like a wrong password, with nothing to record", () => {
    expect(errorOf(() => decideSetPassword(given(), when(current(undefined)))).id).toBe("COMMAND-3M0fs");
  });

  it("an owner of another organization is PermissionDenied, before anything is compared or recorded", () => {
    const err = errorOf(() => checkPasswordProof(given(added), when(current(undefined, foreignOwner))));
    expect([err.code, err.id]).toEqual([Code.PermissionDenied, "AUTHZ-HKJD33"]);
  });

  it("a locked user is FailedPrecondition COMMAND-JLK35, even with the right password", () => {
    const err = errorOf(() => decideSetPassword(given(added, locked), when(current("$argon2id$old"))));
    expect([err.code, err.id, err.key]).toEqual([Code.FailedPrecondition, "COMMAND-JLK35", "Errors.User.Locked"]);
  });

  it("the failure that reaches the organization's limit locks the user in the same append", () => {
    const state = given(added, ...Array<Given>(9).fill(passwordCheckFailed));
    expect(state.failedChecks).toBe(9);
    const verdict = decideSetPassword(state, when(current(undefined)));
    expect(verdict.events).toEqual([wrongPassword(), { type: UserEvents.locked, payload: { failedAttempts: 10 }, editor: orgOwner.userId }]);
    expect(verdict.rejection?.id).toBe("COMMAND-3M0fs");
    expect(given(added, ...Array<Given>(10).fill(passwordCheckFailed), locked).state).toBe("locked");
  });

  it("the limit comes from the command; 0 never locks", () => {
    expect(decideSetPassword(given(added), when(current(undefined), { maxPasswordAttempts: 1 })).events.map((e) => e.type)).toEqual([
      UserEvents.passwordCheckFailed,
      UserEvents.locked,
    ]);
    const many = given(added, ...Array<Given>(50).fill(passwordCheckFailed));
    expect(decideSetPassword(many, when(current(undefined), { maxPasswordAttempts: 0 })).events).toEqual([wrongPassword()]);
  });

  it("failures count since the last password change or unlock", () => {
    expect(given(added, passwordCheckFailed, checkFailed, changed()).failedChecks).toBeUndefined();
    const unlocked = given(added, passwordCheckFailed, passwordCheckFailed, locked, { type: UserEvents.unlocked });
    expect(unlocked).toMatchObject({ state: "active" });
    expect(unlocked.failedChecks).toBeUndefined();
    expect(decideSetPassword(unlocked, when(current(undefined), { maxPasswordAttempts: 2 })).events).toEqual([wrongPassword()]);
  });

  it("a deactivated user's failures are counted but do not lock it", () => {
    const state = given(added, { type: UserEvents.deactivated }, passwordCheckFailed);
    expect(decideSetPassword(state, when(current(undefined), { maxPasswordAttempts: 2 })).events).toEqual([wrongPassword()]);
  });

  it("a changed password drops a pending code", () => {
    expect(given(added, codeAdded("ABC123"), changed()).pendingCode).toBeUndefined();
  });
});

describe("SetPassword without verification", () => {
  const permission = (principal: Principal): PasswordProof => ({ kind: "permission", principal });
  const iamOwnerBot: Given = { type: UserEvents.machineAdded, payload: { username: "admin", name: "admin", description: "", role: "IAM_OWNER" } };

  it("an owner of the user's organization sets the password, as editor", () => {
    expect(decideSetPassword(given(added), when(permission(orgOwner))).events).toEqual([changed(orgOwner.userId)]);
  });

  it("an owner of another organization is PermissionDenied", () => {
    const err = errorOf(() => decideSetPassword(given(added), when(permission(foreignOwner))));
    expect([err.code, err.id]).toEqual([Code.PermissionDenied, "AUTHZ-HKJD33"]);
  });

  it("an unknown user is NotFound, before the permission check", () => {
    expect(errorOf(() => decideSetPassword(given(), when(permission(foreignOwner)))).code).toBe(Code.NotFound);
  });

  it("works on a locked user", () => {
    expect(decideSetPassword(given(added, locked), when(permission(orgOwner))).events).toEqual([changed(orgOwner.userId)]);
  });

  it("an ORG_OWNER on an IAM_OWNER is PermissionDenied; an IAM_OWNER on a machine user is NotFound", () => {
    const err = errorOf(() => decideSetPassword(given(iamOwnerBot), when(permission(orgOwner))));
    expect([err.code, err.id]).toEqual([Code.PermissionDenied, "AUTHZ-R4nk1"]);
    const iamOwner: Principal = { userId: "300000000000000009", orgId: ORG, role: "IAM_OWNER" };
    expect(errorOf(() => decideSetPassword(given(iamOwnerBot), when(permission(iamOwner)))).code).toBe(Code.NotFound);
  });
});

describe("hashing after proof", () => {
  it("the proof is checked without the new password; a holding proof names the editor", () => {
    const { newPassword: _none, ...unhashed } = when(byCode("ABC123"));
    expect(checkPasswordProof(given(added, codeAdded("ABC123")), unhashed)).toEqual({ holds: true, editor: USER });
    const wrong = checkPasswordProof(given(added, codeAdded("ABC123")), { ...unhashed, proof: byCode("WRONG1") });
    expect(wrong.holds).toBe(false);
  });

  it("a proof that holds without a checked password is a retry, never a change", () => {
    const { newPassword: _none, ...unhashed } = when(byCode("ABC123"));
    const err = errorOf(() => decideSetPassword(given(added, codeAdded("ABC123")), unhashed));
    expect(err.code).toBe(Code.Unavailable);
  });
});

describe("the hosted page's link check", () => {
  const link = (verifiedCode: string | undefined, extra: Partial<ResetLinkCheck> = {}): ResetLinkCheck => ({
    userId: USER,
    verifiedCode,
    now: NOW,
    maxCodeAttempts: 5,
    maxPasswordAttempts: 10,
    ...extra,
  });

  it("the pending code is valid and records nothing", () => {
    expect(decideResetLink(given(added, codeAdded("ABC123")), link("sealed:ABC123"))).toEqual({ valid: true, locked: false });
  });

  it("a locked user's valid link says so", () => {
    expect(decideResetLink(given(added, codeAdded("ABC123"), locked), link("sealed:ABC123"))).toEqual({ valid: true, locked: true });
  });

  it("a wrong code is recorded by the user and counts toward invalidation and lockout", () => {
    const state = given(added, codeAdded("ABC123"), checkFailed);
    expect(decideResetLink(state, link(undefined, { maxCodeAttempts: 2, maxPasswordAttempts: 2 }))).toEqual({
      valid: false,
      events: [
        { type: UserEvents.passwordCodeCheckFailed, payload: {}, editor: USER },
        { type: UserEvents.passwordCodeInvalidated, payload: { failedAttempts: 2 }, editor: USER },
        { type: UserEvents.locked, payload: { failedAttempts: 2 }, editor: USER },
      ],
    });
  });

  it.each([
    ["an unknown user", []],
    ["no code pending", [added]],
    ["an expired code", [added, codeAdded("ABC123", NOW - 1)]],
    ["an invalidated code", [added, codeAdded("ABC123"), { type: UserEvents.passwordCodeInvalidated, payload: { failedAttempts: 5 } }]],
  ] as Array<[string, Given[]]>)("%s is not valid, with nothing to record", (_what, events) => {
    expect(decideResetLink(given(...events), link("sealed:ABC123"))).toEqual({ valid: false, events: [] });
  });
});
