/** The audit record: what the commands write, and how `latchkey audit` prints a history. */
import { describe, expect, it } from "vitest";
import { auditEntries, formatJsonLines, formatLines } from "../src/query/audit_history.js";
import { cleanUserAgent, requestOrigin, USER_AGENT_MAX_LENGTH } from "../src/http/origin.js";
import type { Principal } from "../src/command/permissions.js";
import { decidePasswordReset } from "../src/command/user/decide.js";
import { decideSetPassword, type PasswordProof, type SetPassword } from "../src/command/user/decide_password.js";
import { UserEvents, foldUser } from "../src/command/user/events.js";
import type { StoredEvent } from "../src/eventstore/eventstore.js";
import { addressMatcher } from "../src/http/client_address.js";
import { storedUserEvents, type GivenEvent } from "./support/events.js";

const ORG = "100000000000000001";
const USER = "200000000000000001";
const ADMIN = "300000000000000001";
const APP = "400000000000000001";
const T0 = Date.parse("2026-11-22T10:42:17.000Z");
const HASH = "$argon2id$v=19$m=19456,p=1,t=2$c2FsdA$aGFzaA";
const SEALED = "v1:sealed-code-bytes";

type Given = GivenEvent;

const stored = (...events: Given[]): StoredEvent[] =>
  storedUserEvents(events, { userId: USER, orgId: ORG, startAt: T0, stepMs: 1000, editor: ADMIN });

const added: Given = {
  type: UserEvents.humanAdded,
  payload: { username: "ada@example.com", profile: { givenName: "Ada", familyName: "Lovelace" }, email: { address: "ada@example.com", verified: false }, passwordChangeRequired: false },
};
const from = (clientIp: string, extra: Record<string, unknown> = {}) => ({ audit: { clientIp, userAgent: "curl/8.5.0", ...extra } });
const codeAdded = (payload: Record<string, unknown> = {}, editor = ADMIN): Given => ({
  type: UserEvents.passwordCodeAdded,
  payload: { code: SEALED, expiresAt: T0 + 3_600_000, medium: "email", codeReturned: false, ...from("198.51.100.7"), ...payload },
  editor,
});
const failed = (ip = "203.0.113.9"): Given => ({ type: UserEvents.passwordCodeCheckFailed, payload: from(ip), editor: USER });
const changed = (proof: string, editor = USER): Given => ({
  type: UserEvents.passwordChanged,
  payload: { passwordHash: HASH, changeRequired: false, ...from("203.0.113.9", { proof }) },
  editor,
});

describe("auditEntries", () => {
  it("says what happened, who asked and from where", () => {
    const entries = auditEntries(stored(added, codeAdded(), failed(), failed(), changed("code")), { maxCodeAttempts: 5 });
    expect(entries.map((e) => [e.sequence, e.what, e.editor, e.clientIp])).toEqual([
      [1, "human user created (username ada@example.com)", ADMIN, undefined],
      [2, "password reset requested (email link)", ADMIN, "198.51.100.7"],
      [3, "code check failed (attempt 1 of 5)", USER, "203.0.113.9"],
      [4, "code check failed (attempt 2 of 5)", USER, "203.0.113.9"],
      [5, "password changed with a code", USER, "203.0.113.9"],
    ]);
    expect(entries[1]).toEqual({
      time: "2026-11-22T10:42:18.000Z",
      sequence: 2,
      event: UserEvents.passwordCodeAdded,
      what: "password reset requested (email link)",
      editor: ADMIN,
      clientIp: "198.51.100.7",
      userAgent: "curl/8.5.0",
    });
  });

  it("counts attempts per code and names the invalidation", () => {
    const entries = auditEntries(
      stored(added, codeAdded(), failed(), { type: UserEvents.passwordCodeInvalidated, payload: { failedAttempts: 2, ...from("203.0.113.9") }, editor: USER }, codeAdded(), failed()),
    );
    expect(entries.map((e) => e.what).slice(2)).toEqual([
      "code check failed (attempt 1)",
      "code invalidated after 2 wrong attempts",
      "password reset requested (email link)",
      "code check failed (attempt 1)",
    ]);
  });

  it("names each way of asking for a reset and of changing the password", () => {
    const whats = auditEntries(
      stored(
        added,
        codeAdded({ codeReturned: true }),
        codeAdded({ urlTemplate: "https://example.com/reset?code={{.Code}}" }),
        codeAdded({ medium: "sms" }),
        codeAdded({}, APP),
        changed("currentPassword"),
        changed("permission", ADMIN),
        { type: UserEvents.passwordChanged, payload: { passwordHash: HASH, changeRequired: true } },
        { type: UserEvents.passwordCodeSent, payload: { triggerSequence: 4, messageId: "m" }, editor: "notification" },
        { type: UserEvents.passwordChangeSent, payload: { triggerSequence: 6, messageId: "m" }, editor: "notification" },
        { type: UserEvents.notificationFailed, payload: { triggerSequence: 3, messageId: "m", channel: "email", reason: "550 user@x unknown", attempts: 3 } },
        { type: UserEvents.locked },
        { type: UserEvents.unlocked },
        { type: UserEvents.passwordCheckFailed, payload: from("203.0.113.9"), editor: ADMIN },
        { type: UserEvents.locked, payload: { failedAttempts: 10, ...from("203.0.113.9") }, editor: ADMIN },
        { type: UserEvents.deactivated },
        { type: UserEvents.reactivated },
        { type: UserEvents.removed },
        { type: "user.something.new", payload: { secret: "x" } },
      ),
    ).map((e) => e.what);
    expect(whats.slice(1)).toEqual([
      "password reset requested (code returned to the caller)",
      "password reset requested (email link to the caller's page)",
      "password reset requested (SMS)",
      "password reset requested (email link)",
      "password changed with the current password",
      "password set by an administrator",
      "password changed, to be changed at the next login",
      "reset message sent by SMS (for #4)",
      "password change notice sent",
      "message by email could not be delivered (for #3)",
      "user locked",
      "user unlocked",
      "current password wrong",
      "user locked after 10 failed checks (lockout policy)",
      "user deactivated",
      "user reactivated",
      "user deleted",
      "user.something.new",
    ]);
  });

  it("never carries a code, hash, template, token id or delivery reason", () => {
    const events = stored(
      { ...added, payload: { ...added.payload, passwordHash: HASH } },
      codeAdded({ urlTemplate: "https://example.com/{{.Code}}", linkParams: { organization_id: "o" } }),
      changed("code"),
      { type: UserEvents.patAdded, payload: { tokenId: "tok-123" } },
      { type: UserEvents.notificationFailed, payload: { reason: "code ABC123 rejected", channel: "email" } },
    );
    const text = [...formatLines(auditEntries(events), USER), ...formatJsonLines(auditEntries(events))].join("\n");
    for (const secret of [SEALED, HASH, "argon2", "{{.Code}}", "tok-123", "ABC123", "organization_id"]) expect(text).not.toContain(secret);
  });

  it("prints stored text without control characters", () => {
    const [entry] = auditEntries(stored({ ...added, payload: { username: "evil\u001b[2J\u202e" } }));
    expect(entry!.what).toBe("human user created (username evil?[2J?)");
  });
});

describe("formatLines and formatJsonLines", () => {
  const entries = auditEntries(stored(added, codeAdded(), failed(), changed("code")), { maxCodeAttempts: 5 });

  it("one aligned line per event: time, sequence, what, who, from where", () => {
    expect(formatLines(entries, USER)).toEqual([
      `2026-11-22T10:42:17.000Z  #1  human user created (username ada@example.com)  by ${ADMIN}             from -`,
      `2026-11-22T10:42:18.000Z  #2  password reset requested (email link)          by ${ADMIN}             from 198.51.100.7`,
      `2026-11-22T10:42:19.000Z  #3  code check failed (attempt 1 of 5)             by ${USER} (the user)  from 203.0.113.9`,
      `2026-11-22T10:42:20.000Z  #4  password changed with a code                   by ${USER} (the user)  from 203.0.113.9`,
    ]);
  });

  it("one JSON object per event with the same fields", () => {
    const lines = formatJsonLines(entries).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[2]).toEqual({
      time: "2026-11-22T10:42:19.000Z",
      sequence: 3,
      event: UserEvents.passwordCodeCheckFailed,
      what: "code check failed (attempt 1 of 5)",
      editor: USER,
      clientIp: "203.0.113.9",
      userAgent: "curl/8.5.0",
    });
    expect(Object.keys(lines[0]!)).toEqual(["time", "sequence", "event", "what", "editor"]);
  });
});

describe("requestOrigin", () => {
  const trusted = addressMatcher(["127.0.0.1", "10.0.0.0/8"]);
  const req = (peer: string, headers: Record<string, string | string[]>) => ({ socket: { remoteAddress: peer }, headers });

  it("is the peer, or the forwarded client behind a trusted proxy", () => {
    expect(requestOrigin(req("::ffff:127.0.0.1", { "x-forwarded-for": "198.51.100.1" }), trusted)).toEqual({ clientIp: "198.51.100.1" });
    expect(requestOrigin(req("192.0.2.7", { "x-forwarded-for": "198.51.100.1", "user-agent": "ua/1" }), trusted)).toEqual({ clientIp: "192.0.2.7", userAgent: "ua/1" });
    expect(requestOrigin(req("10.0.0.1", { "x-forwarded-for": ["203.0.113.5", "10.0.0.2"] }), trusted).clientIp).toBe("203.0.113.5");
  });

  it("keeps the user agent printable and short", () => {
    expect(cleanUserAgent(undefined)).toBeUndefined();
    expect(cleanUserAgent("  ")).toBeUndefined();
    expect(cleanUserAgent("a\r\nb\u00e9")).toBe("a??b?");
    expect(cleanUserAgent("x".repeat(1000))).toHaveLength(USER_AGENT_MAX_LENGTH);
  });
});

describe("the commands' audit record", () => {
  const admin: Principal = { userId: ADMIN, orgId: ORG, role: "IAM_OWNER" };
  const origin = { clientIp: "198.51.100.7", userAgent: "curl/8.5.0" };
  const state = (...events: Given[]) => foldUser(stored(...events));
  /** "sealed:<code>" stands in for the encryption: the code given, as the pending one it would have matched */
  const byCode = (code: string): PasswordProof => ({ kind: "code", verifiedCode: `sealed:${code}` });
  const pending: Given = { type: UserEvents.passwordCodeAdded, payload: { code: "sealed:RIGHT1", expiresAt: T0 + 3_600_000, medium: "email", codeReturned: true } };
  const when = (proof: PasswordProof, extra: Partial<SetPassword> = {}): SetPassword => ({
    userId: USER,
    proof,
    newPassword: { ok: true, hash: HASH },
    changeRequired: false,
    now: T0,
    maxCodeAttempts: 2,
    maxPasswordAttempts: 10,
    origin,
    ...extra,
  });

  it("a reset records where it was asked from", () => {
    const [event] = decidePasswordReset(state(added), { principal: admin, userId: USER, encryptedCode: SEALED, expiresAt: 1, medium: "email", returnCode: true, origin });
    expect(event).toMatchObject({ editor: ADMIN, payload: { audit: origin } });
  });

  it("wrong codes and the invalidation record it, by the user without a token", () => {
    const verdict = decideSetPassword(state(added, pending, { type: UserEvents.passwordCodeCheckFailed }), when(byCode("WRONG1")));
    expect(verdict.events).toEqual([
      { type: UserEvents.passwordCodeCheckFailed, payload: { audit: origin }, editor: USER },
      { type: UserEvents.passwordCodeInvalidated, payload: { failedAttempts: 2, audit: origin }, editor: USER },
    ]);
  });

  it("a change records how it was authorized, and a token's user as the editor", () => {
    expect(decideSetPassword(state(added, pending), when(byCode("RIGHT1"))).events[0]).toMatchObject({ editor: USER, payload: { audit: { ...origin, proof: "code" } } });
    expect(decideSetPassword(state(added, pending), when(byCode("RIGHT1"), { callerId: ADMIN })).events[0]!.editor).toBe(ADMIN);
    expect(decideSetPassword(state(added), when({ kind: "permission", principal: admin })).events[0]).toMatchObject({
      editor: ADMIN,
      payload: { audit: { proof: "permission" } },
    });
  });

  it("a wrong current password, and the lock it brings at the limit, record it, by the caller", () => {
    const proof: PasswordProof = { kind: "currentPassword", principal: admin, verifiedHash: undefined };
    const verdict = decideSetPassword(state({ ...added, payload: { ...added.payload, passwordHash: HASH } }), when(proof, { maxPasswordAttempts: 1 }));
    expect(verdict.events).toEqual([
      { type: UserEvents.passwordCheckFailed, payload: { audit: origin }, editor: ADMIN },
      { type: UserEvents.locked, payload: { failedAttempts: 1, audit: origin }, editor: ADMIN },
    ]);
  });

  it("without an origin the payloads are as before", () => {
    const { origin: _none, ...noOrigin } = when(byCode("RIGHT1"));
    expect(decideSetPassword(state(added, pending), noOrigin).events[0]!.payload).toEqual({ passwordHash: HASH, changeRequired: false });
  });
});
