/** The operator's decisions: given the aggregate's state, when the command, then events or an error. */
import { describe, expect, it } from "vitest";
import { decideRecordKeys, KEYS_RECORDED } from "../src/command/encryption_keys.js";
import { OrgEvents, orgModel, type OrgState } from "../src/command/org/events.js";
import { decideSetPolicies } from "../src/command/org/password_policy.js";
import { DEFAULT_PASSWORD_RULES } from "../src/command/password_rules/policy.js";
import { EncryptionKeyError } from "../src/eventstore/encryption_keys.js";

const org = (extra: Partial<OrgState> = {}): OrgState => ({ ...orgModel.initial(), exists: true, orgId: "o1", name: "acme", sequence: 1, ...extra });
const COMPLEXITY = { minLength: 10, hasUppercase: true, hasLowercase: true, hasNumber: true, hasSymbol: false };

describe("decideSetPolicies", () => {
  it("given an organization without policies, adds each one given", () => {
    const events = decideSetPolicies(org(), { complexity: COMPLEXITY, lockout: { maxPasswordAttempts: 5 } });
    expect(events.map((e) => e.type)).toEqual([OrgEvents.passwordPolicyAdded, OrgEvents.lockoutPolicyAdded]);
    expect(events[0]!.payload).toEqual(COMPLEXITY);
  });

  it("given an organization with its own policies, changes them", () => {
    const events = decideSetPolicies(org({ passwordPolicy: COMPLEXITY, lockoutPolicy: { maxPasswordAttempts: 3 } }), { complexity: COMPLEXITY, lockout: { maxPasswordAttempts: 0 } });
    expect(events.map((e) => e.type)).toEqual([OrgEvents.passwordPolicyChanged, OrgEvents.lockoutPolicyChanged]);
  });

  it("records the rules with a copy of the word list", () => {
    const words = ["acme"];
    const [event] = decideSetPolicies(org(), { rules: { ...DEFAULT_PASSWORD_RULES, words } });
    expect(event).toMatchObject({ type: OrgEvents.passwordRulesSet, payload: { words: ["acme"] } });
    expect(event!.payload["words"]).not.toBe(words);
  });

  it("refuses an organization that does not exist", () => {
    expect(() => decideSetPolicies(orgModel.initial(), { complexity: COMPLEXITY })).toThrow(expect.objectContaining({ id: "POLICY-0rg7n" }));
  });

  it("refuses a policy that breaks its own limits before looking at the organization", () => {
    expect(() => decideSetPolicies(orgModel.initial(), { complexity: { ...COMPLEXITY, minLength: 0 } })).toThrow(expect.objectContaining({ id: expect.not.stringMatching("POLICY-0rg7n") }));
  });
});

describe("decideRecordKeys", () => {
  const recorded = (ids: string[]) => ({ sequence: ids.length > 0 ? 1 : 0, orgId: "", keyIds: new Set(ids) });

  it("given no record, records every key", () => {
    expect(decideRecordKeys(recorded([]), ["a", "b"])).toEqual([{ type: KEYS_RECORDED, payload: { keyIds: ["a", "b"] }, editor: "system" }]);
  });

  it("given the keys recorded, records nothing", () => {
    expect(decideRecordKeys(recorded(["a"]), ["a"])).toEqual([]);
  });

  it("given one key in common, records the new one (a rotation)", () => {
    expect(decideRecordKeys(recorded(["a"]), ["b", "a"])).toEqual([{ type: KEYS_RECORDED, payload: { keyIds: ["b"] }, editor: "system" }]);
  });

  it("given no key in common, refuses", () => {
    expect(() => decideRecordKeys(recorded(["a"]), ["c"])).toThrow(EncryptionKeyError);
  });
});
