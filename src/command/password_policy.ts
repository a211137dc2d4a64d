/**
 * The password complexity policy: an instance default, overridden per
 * organization. Pure: the rules a password must meet and the ones it misses.
 */
import { invalidArgument } from "../errors/errors.js";

export interface PasswordPolicy {
  minLength: number;
  hasUppercase: boolean;
  hasLowercase: boolean;
  hasNumber: boolean;
  hasSymbol: boolean;
}

/** ZITADEL's default complexity policy. */
export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = {
  minLength: 8,
  hasUppercase: true,
  hasLowercase: true,
  hasNumber: true,
  hasSymbol: true,
};

export const MAX_PASSWORD_LENGTH = 200;

interface Rule {
  applies: (policy: PasswordPolicy) => boolean;
  describe: (policy: PasswordPolicy) => string;
  met: (password: string, policy: PasswordPolicy) => boolean;
}

// Unicode classes, so "Ä" counts as an uppercase letter and "٣" as a digit.
const RULES: readonly Rule[] = [
  {
    applies: () => true,
    describe: (p) => `at least ${p.minLength} characters`,
    met: (pw, p) => [...pw].length >= p.minLength,
  },
  { applies: (p) => p.hasUppercase, describe: () => "an uppercase letter", met: (pw) => /\p{Lu}/u.test(pw) },
  { applies: (p) => p.hasLowercase, describe: () => "a lowercase letter", met: (pw) => /\p{Ll}/u.test(pw) },
  { applies: (p) => p.hasNumber, describe: () => "a digit", met: (pw) => /\p{N}/u.test(pw) },
  { applies: (p) => p.hasSymbol, describe: () => "a symbol (not a letter or digit)", met: (pw) => /[^\p{L}\p{N}]/u.test(pw) },
];

/** Every rule of the policy, in words, e.g. for the reset page. */
export function describePolicy(policy: PasswordPolicy): string[] {
  return RULES.filter((r) => r.applies(policy)).map((r) => r.describe(policy));
}

/** The rules the password misses, in words; empty when it meets the policy. */
export function unmetRules(policy: PasswordPolicy, password: string): string[] {
  return RULES.filter((r) => r.applies(policy) && !r.met(password, policy)).map((r) => r.describe(policy));
}

/** Checks a policy an operator wants to set. */
export function checkPolicy(policy: PasswordPolicy): void {
  if (!Number.isInteger(policy.minLength) || policy.minLength < 1 || policy.minLength > MAX_PASSWORD_LENGTH) {
    throw invalidArgument(
      "POLICY-Mn7lq",
      "Errors.Policy.PasswordComplexity.MinLength",
      `The minimum length must be a whole number from 1 to ${MAX_PASSWORD_LENGTH}`,
    );
  }
}
