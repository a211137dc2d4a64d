import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PASSWORD_POLICY } from "../src/command/password_policy.js";
import { rangeKey, rangeListsSuffix } from "../src/command/password_rules/breach_range.js";
import { loadPasswordLists } from "../src/command/password_rules/common_passwords.js";
import { NO_CONTEXT, commonForms, violatedRules, type PasswordContext } from "../src/command/password_rules/check.js";
import { reusesPassword } from "../src/command/password_rules/new_password.js";
import { personalTokens } from "../src/command/password_rules/personal_data.js";
import { DEFAULT_PASSWORD_RULES, checkRulesPolicy, parseWords, passwordExpired, type PasswordRulesPolicy } from "../src/command/password_rules/policy.js";
import { PasswordRejectedError } from "../src/command/password_rules/rejection.js";
import { LatchkeyError } from "../src/errors/errors.js";

beforeAll(loadPasswordLists);

const rules = (over: Partial<PasswordRulesPolicy>): PasswordRulesPolicy => ({ ...DEFAULT_PASSWORD_RULES, ...over });
const ada = personalTokens({ username: "ada.lovelace@example.com", email: "countess.ada@example.com", givenName: "Ada", familyName: "Lovelace" });
const withAda: PasswordContext = { ...NO_CONTEXT, personalTokens: ada };
const ruleNames = (policy: PasswordRulesPolicy, password: string, context: PasswordContext = NO_CONTEXT) =>
  violatedRules(DEFAULT_PASSWORD_POLICY, policy, password, context).map((v) => v.rule);

describe("violatedRules", () => {
  it("with every rule off, only the complexity policy applies", () => {
    expect(ruleNames(DEFAULT_PASSWORD_RULES, "Password1!")).toEqual([]);
    expect(ruleNames(DEFAULT_PASSWORD_RULES, "Lovelace-Ada-1", { ...withAda, reusesRecent: true, breachedRemotely: true })).toEqual([]);
    expect(ruleNames(DEFAULT_PASSWORD_RULES, "short")).toEqual(["complexity"]);
  });

  it("returns every violated rule, each with its own id, in a fixed order", () => {
    const all = rules({ historyCount: 3, rejectCommon: true, rejectBreached: true, rejectPersonalData: true, minStrength: 3 });
    const violations = violatedRules(DEFAULT_PASSWORD_POLICY, all, "dragon", { ...NO_CONTEXT, personalTokens: ["dragon"], reusesRecent: true });
    expect(violations.map((v) => v.rule)).toEqual(["complexity", "personalData", "common", "breached", "strength", "history"]);
    expect(new Set(violations.map((v) => v.id)).size).toBe(6);
    for (const v of violations) expect(v.text).not.toContain("dragon");
  });

  it("common: the list, also with digits and symbols around the word and swapped characters", () => {
    const on = rules({ rejectCommon: true });
    for (const pw of ["Password1!", "P@ssw0rd123!", "Dragon-2024", "!!Monkey99"]) expect(ruleNames(on, pw), pw).toEqual(["common"]);
    for (const pw of ["Correct-Horse-7", "Vq8#mTz!Lw2p"]) expect(ruleNames(on, pw), pw).toEqual([]);
    expect(commonForms("P@ssw0rd123!")).toContain("password");
    // a core under 4 letters is not looked up
    expect(commonForms("Xy-93817265")).toEqual(["xy-93817265"]);
  });

  it("the organization's words are refused wherever they appear, even with the common list off", () => {
    const words = rules({ words: ["acme", "roadrunner"] });
    expect(ruleNames(words, "My-Acme-Login-9")).toEqual(["common"]);
    expect(ruleNames(words, "R0adRunner#2025")).toEqual(["common"]);
    expect(ruleNames(words, "Correct-Horse-7")).toEqual([]);
  });

  it("breached: the exact password in the shipped list, or the range API's answer", () => {
    const on = rules({ rejectBreached: true });
    expect(ruleNames(on, "Trustno1!")).toEqual([]);
    // the README's example: listed as is, so common and breached both
    expect(ruleNames(rules({ rejectCommon: true, rejectBreached: true }), "P@ssw0rd")).toEqual(["common", "breached"]);
    expect(ruleNames({ ...on }, "Correct-Horse-7", { ...NO_CONTEXT, breachedRemotely: true })).toEqual(["breached"]);
    expect(ruleNames(rules({ rejectBreached: true }), "Qwerty123!")).toEqual([]);
    expect(violatedRules({ ...DEFAULT_PASSWORD_POLICY, hasSymbol: false, hasUppercase: false }, on, "trustno1", NO_CONTEXT).map((v) => v.rule)).toEqual(["breached"]);
  });

  it("personal data: tokens of 3 or more characters, case-insensitive", () => {
    expect(ada).toEqual(expect.arrayContaining(["ada", "lovelace", "countess"]));
    expect(ada).not.toContain("example");
    const on = rules({ rejectPersonalData: true });
    expect(ruleNames(on, "LOVELACE-rules-1", withAda)).toEqual(["personalData"]);
    expect(ruleNames(on, "Countess-of-2!", withAda)).toEqual(["personalData"]);
    expect(ruleNames(on, "Correct-Horse-7", withAda)).toEqual([]);
    expect(personalTokens({ username: "al", email: "jo@x.io", givenName: "Al", familyName: "Li" })).toEqual([]);
  });

  it("strength: zxcvbn's score below the minimum is refused, and says the score", () => {
    const strong = rules({ minStrength: 4 });
    const [weak] = violatedRules(DEFAULT_PASSWORD_POLICY, strong, "Summer2024!", NO_CONTEXT);
    expect(weak?.rule).toBe("strength");
    expect(weak?.text).toMatch(/strength [0-3] of 4/);
    expect(ruleNames(strong, "vR7#kq2!Lz9@wPx4^Tm")).toEqual([]);
    // past 64 characters only the first 64 are estimated
    expect(ruleNames(strong, "a".repeat(64) + "vR7#kq2!Lz9@wPx4^Tm")).toEqual(["strength"]);
    // the user's own data weakens a password
    expect(ruleNames(rules({ minStrength: 3 }), "Lovelace-1815", NO_CONTEXT)).toEqual([]);
    expect(ruleNames(rules({ minStrength: 3 }), "Lovelace-1815", withAda)).toEqual(["strength"]);
  });

  it("history: only when the policy asks for it", () => {
    expect(ruleNames(rules({ historyCount: 5 }), "Correct-Horse-7", { ...NO_CONTEXT, reusesRecent: true })).toEqual(["history"]);
    expect(ruleNames(rules({ historyCount: 0 }), "Correct-Horse-7", { ...NO_CONTEXT, reusesRecent: true })).toEqual([]);
  });
});

describe("reusesPassword", () => {
  const hasher = {
    verified: [] as string[],
    hash: async (pw: string) => `h:${pw}`,
    async verify(hash: string, pw: string) {
      this.verified.push(hash);
      return hash === `h:${pw}`;
    },
  };
  it("verifies newest first and stops at the first match", async () => {
    hasher.verified = [];
    expect(await reusesPassword(hasher, ["h:c", "h:b", "h:a"], "b")).toBe(true);
    expect(hasher.verified).toEqual(["h:c", "h:b"]);
    expect(await reusesPassword(hasher, ["h:c"], "a")).toBe(false);
  });
});

describe("the error of a refused password", () => {
  it("carries the first rule's id and names every rule", () => {
    const violations = violatedRules(DEFAULT_PASSWORD_POLICY, rules({ rejectCommon: true }), "password", NO_CONTEXT);
    const err = new PasswordRejectedError(violations);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err.id).toBe("COMMAND-Pw7cx");
    expect(err.text).toContain("it needs");
    expect(err.text).toContain("common password");
    expect(err.text).not.toContain("password;".repeat(2));
  });
});

describe("the rules policy", () => {
  it("refuses out-of-range values", () => {
    const id = (p: Partial<PasswordRulesPolicy>) => {
      try {
        checkRulesPolicy(rules(p));
        return undefined;
      } catch (err) {
        return (err as LatchkeyError).id;
      }
    };
    expect(id({ historyCount: 24, minStrength: 4, maxAgeDays: 90 })).toBeUndefined();
    expect(id({ historyCount: 25 })).toBe("POLICY-H1stc");
    expect(id({ minStrength: 5 })).toBe("POLICY-Str3n");
    expect(id({ maxAgeDays: -1 })).toBe("POLICY-Ag3dy");
    expect(id({ words: [""] })).toBe("POLICY-W0rds");
  });

  it("a words file: one a line, trimmed, lowercased, without blanks, comments and repeats", () => {
    expect(parseWords("Acme\r\n  roadrunner \n\n# not a word\nACME\n")).toEqual(["acme", "roadrunner"]);
  });

  it("a password expires after the maximum age; 0 never", () => {
    const changed = new Date("2026-01-01T00:00:00Z");
    expect(passwordExpired(30, changed, new Date("2026-01-31T00:00:00Z"))).toBe(false);
    expect(passwordExpired(30, changed, new Date("2026-01-31T00:00:01Z"))).toBe(true);
    expect(passwordExpired(0, changed, new Date("2030-01-01T00:00:00Z"))).toBe(false);
    expect(passwordExpired(30, undefined, new Date("2030-01-01T00:00:00Z"))).toBe(false);
  });
});

describe("the range API's format", () => {
  it("sends 5 hex digits and finds the rest with a count above 0", () => {
    // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
    expect(rangeKey("password")).toEqual({ prefix: "5BAA6", suffix: "1E4C9B93F3F0682250B6CF8331B7EE68FD8" });
    const body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\r\n";
    expect(rangeListsSuffix(body, "1E4C9B93F3F0682250B6CF8331B7EE68FD8")).toBe(true);
    expect(rangeListsSuffix("1E4C9B93F3F0682250B6CF8331B7EE68FD8:0\r\n", "1E4C9B93F3F0682250B6CF8331B7EE68FD8")).toBe(false);
  });
});
