/** SetPassword rules: given the user's events, when SetPassword, then events or an error. */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Principal } from "../src/command/permissions.js";
import { decideSetPassword, type PasswordProof, type SetPassword, type Verdict } from "../src/command/user/decide.js";
import { UserEvents, foldUser, type HumanAddedPayload, type UserState } from "../src/command/user/events.js";
import { LatchkeyError } from "../src/errors/errors.js";
import { storedUserEvents, type GivenEvent } from "./support/events.js";

const ORG = "100000000000000001";
const USER = "200000000000000001";
const NOW = 1_700_000_000_000;
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

const byCode = (code: string): PasswordProof => ({ kind: "code", code, matches: (sealed, given) => sealed === `sealed:${given}` });

function when(proof: PasswordProof, extra: Partial<SetPassword> = {}): SetPassword {
  return { userId: USER, proof, newPassword: { ok: true, hash: "$argon2id$new" }, changeRequired: false, now: NOW, maxCodeAttempts: 5, ...extra };
}

function errorOf(fn: () => unknown): LatchkeyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LatchkeyError) return err;
    throw err;
  }
  throw new Error("expected a LatchkeyError");
}

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
      decideSetPassword(given(added, codeAdded("ABC123")), when(byCode("ABC123"), { newPassword: { ok: false, unmet: ["a digit"] } })),
    );
    expect([err.code, err.id]).toEqual([Code.InvalidArgument, "COMMAND-Pw7cx"]);
    expect(err.text).toContain("a digit");
  });

  it("a wrong code is reported before the policy", () => {
    const verdict = decideSetPassword(given(added, codeAdded("ABC123")), when(byCode("WRONG1"), { newPassword: { ok: false, unmet: ["a digit"] } }));
    expect(verdict.rejection?.id).toBe("CODE-woT0xc");
  });

  it("locked and deactivated users can complete a reset", () => {
    expect(decideSetPassword(given(added, { type: UserEvents.locked }, codeAdded("ABC123")), when(byCode("ABC123"))).events).toHaveLength(1);
    expect(decideSetPassword(given(added, { type: UserEvents.deactivated }, codeAdded("ABC123")), when(byCode("ABC123"))).events).toHaveLength(1);
  });
});

describe("SetPassword with the current password", () => {
  const current = (verifiedHash: string | undefined): PasswordProof => ({ kind: "currentPassword", verifiedHash });

  it("a password verified against the current hash changes it", () => {
    expect(decideSetPassword(given(added), when(current("$argon2id$old")))).toEqual({ events: [changed()] });
  });

  it("a wrong current password is InvalidArgument COMMAND-3M0fs", () => {
    const err = errorOf(() => decideSetPassword(given(added), when(current(undefined))));
    expect([err.code, err.id, err.key]).toEqual([Code.InvalidArgument, "COMMAND-3M0fs", "Errors.User.Password.Invalid"]);
  });

  it("a password verified against a hash that has changed since is wrong", () => {
    const err = errorOf(() => decideSetPassword(given(added, changed()), when(current("$argon2id$old"))));
    expect(err.id).toBe("COMMAND-3M0fs");
  });

  it("an unknown user looks like a wrong password", () => {
    expect(errorOf(() => decideSetPassword(given(), when(current(undefined)))).id).toBe("COMMAND-3M0fs");
  });

  it("a changed password drops a pending code", () => {
    expect(given(added, codeAdded("ABC123"), changed()).pendingCode).toBeUndefined();
  });
});

describe("SetPassword without verification", () => {
  const permission = (principal: Principal): PasswordProof => ({ kind: "permission", principal });

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
});
