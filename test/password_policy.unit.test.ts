import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PASSWORD_POLICY,
  checkPolicy,
  describePolicy,
  unmetRules,
  type PasswordPolicy,
} from "../src/command/password_policy.js";
import { NO_CONTEXT, violatedRules } from "../src/command/password_rules/check.js";
import { DEFAULT_PASSWORD_RULES } from "../src/command/password_rules/policy.js";
import { PasswordRejectedError } from "../src/command/password_rules/rejection.js";
import { LatchkeyError } from "../src/errors/errors.js";

const none: PasswordPolicy = { minLength: 1, hasUppercase: false, hasLowercase: false, hasNumber: false, hasSymbol: false };

describe("password policy", () => {
  it("the default is ZITADEL's: 8 characters, upper, lower, digit and symbol", () => {
    expect(DEFAULT_PASSWORD_POLICY).toEqual({ minLength: 8, hasUppercase: true, hasLowercase: true, hasNumber: true, hasSymbol: true });
    expect(describePolicy(DEFAULT_PASSWORD_POLICY)).toEqual([
      "at least 8 characters",
      "an uppercase letter",
      "a lowercase letter",
      "a digit",
      "a symbol (not a letter or digit)",
    ]);
  });

  it("a password meeting every rule has nothing unmet", () => {
    expect(unmetRules(DEFAULT_PASSWORD_POLICY, "Correct-Horse-7")).toEqual([]);
  });

  it("names every unmet rule, not only the first", () => {
    expect(unmetRules(DEFAULT_PASSWORD_POLICY, "abc")).toEqual([
      "at least 8 characters",
      "an uppercase letter",
      "a digit",
      "a symbol (not a letter or digit)",
    ]);
  });

  it.each([
    ["hasUppercase", "lowercase-only-1"],
    ["hasLowercase", "UPPERCASE-ONLY-1"],
    ["hasNumber", "No-Digits-Here"],
    ["hasSymbol", "NoSymbols123"],
  ] as const)("switching %s off accepts %s", (rule, password) => {
    expect(unmetRules(DEFAULT_PASSWORD_POLICY, password)).toHaveLength(1);
    expect(unmetRules({ ...DEFAULT_PASSWORD_POLICY, [rule]: false }, password)).toEqual([]);
  });

  it("counts characters, not UTF-16 units, and knows non-ASCII letters and digits", () => {
    expect(unmetRules({ ...none, minLength: 4 }, "😀😀😀")).toEqual(["at least 4 characters"]);
    expect(unmetRules({ ...none, hasUppercase: true, hasLowercase: true, hasNumber: true }, "Ää٣")).toEqual([]);
  });

  it("spaces count as symbols", () => {
    expect(unmetRules({ ...none, hasSymbol: true }, "a b")).toEqual([]);
  });

  it("the error is InvalidArgument and lists the rules in words", () => {
    const err = new PasswordRejectedError(violatedRules(DEFAULT_PASSWORD_POLICY, DEFAULT_PASSWORD_RULES, "abcdefG", NO_CONTEXT));
    expect(err).toBeInstanceOf(LatchkeyError);
    expect([err.code, err.id, err.key]).toEqual([Code.InvalidArgument, "COMMAND-Pw7cx", "Errors.User.PasswordComplexityPolicy.NotMet"]);
    expect(err.text).toBe("The password does not meet the password policy, it needs at least 8 characters, a digit and a symbol (not a letter or digit)");
  });

  it.each([0, 201, 2.5])("a minimum length of %s is refused", (minLength) => {
    expect(() => checkPolicy({ ...DEFAULT_PASSWORD_POLICY, minLength })).toThrow(LatchkeyError);
  });
});
