/** The lockout policy: its rule, its check, and how an organization's events carry it. */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { DEFAULT_LOCKOUT_POLICY, checkLockoutPolicy, reachesLockout } from "../src/command/lockout_policy.js";
import { OrgEvents, foldOrg } from "../src/command/org/events.js";
import type { StoredEvent } from "../src/eventstore/eventstore.js";

const ORG = "100000000000000001";

function orgEvents(...events: Array<{ type: string; payload?: Record<string, unknown> }>): StoredEvent[] {
  return events.map((e, i) => ({
    position: i + 1,
    instanceId: "default",
    aggregateType: "org",
    aggregateId: ORG,
    sequence: i + 1,
    type: e.type,
    payload: e.payload ?? {},
    createdAt: new Date(1_700_000_000_000 + i),
    resourceOwner: ORG,
    editor: "system",
  }));
}

describe("lockout policy", () => {
  it("locks at 10 failed checks by default", () => {
    expect(DEFAULT_LOCKOUT_POLICY).toEqual({ maxPasswordAttempts: 10 });
    expect(reachesLockout(10, 9)).toBe(false);
    expect(reachesLockout(10, 10)).toBe(true);
    expect(reachesLockout(10, 11)).toBe(true);
  });

  it("0 never locks", () => {
    expect(reachesLockout(0, 1)).toBe(false);
    expect(reachesLockout(0, 1_000_000)).toBe(false);
  });

  it("an operator may set 0 to 1000, whole numbers only", () => {
    for (const n of [0, 1, 1000]) expect(() => checkLockoutPolicy({ maxPasswordAttempts: n })).not.toThrow();
    for (const n of [-1, 1001, 2.5, Number.NaN]) {
      expect(() => checkLockoutPolicy({ maxPasswordAttempts: n })).toThrow(expect.objectContaining({ code: Code.InvalidArgument, id: "POLICY-Lk7m2" }));
    }
  });

  it("an organization has none of its own until set; the latest event wins", () => {
    expect(foldOrg(orgEvents({ type: OrgEvents.added, payload: { name: "acme" } })).lockoutPolicy).toBeUndefined();
    const org = foldOrg(
      orgEvents(
        { type: OrgEvents.added, payload: { name: "acme" } },
        { type: OrgEvents.lockoutPolicyAdded, payload: { maxPasswordAttempts: 3 } },
        { type: OrgEvents.passwordPolicyAdded, payload: { minLength: 12, hasUppercase: true, hasLowercase: true, hasNumber: true, hasSymbol: false } },
        { type: OrgEvents.lockoutPolicyChanged, payload: { maxPasswordAttempts: 0 } },
      ),
    );
    expect(org.lockoutPolicy).toEqual({ maxPasswordAttempts: 0 });
    expect(org.passwordPolicy?.minLength).toBe(12);
  });
});
