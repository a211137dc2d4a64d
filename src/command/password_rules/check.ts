/**
 * The one check of a new password against everything an organization asks:
 * the complexity policy and the password rules. Pure: what needs hashing or
 * the network (the history, the range API) is found out before and passed in.
 * Returns every violated rule, in a fixed order, not only the first.
 */
import { unmetRules, type PasswordPolicy } from "../password_policy.js";
import { SetPasswordErrorIds as Ids } from "../user/set_password_errors.js";
import { SCORE_WORDS, commonPasswords, strengthScore } from "./common_passwords.js";
import { personalTokensIn } from "./personal_data.js";
import type { PasswordRulesPolicy } from "./policy.js";

export type RuleName = "complexity" | "personalData" | "common" | "breached" | "strength" | "history";

export interface Violation {
  rule: RuleName;
  /** stable error id, one per rule */
  id: string;
  /** i18n key */
  key: string;
  /** what is wrong, in English, without any part of the password */
  text: string;
}

/** What the check needs to know besides the password and the policies. */
export interface PasswordContext {
  /** the user's personal tokens (see personalTokens) */
  personalTokens: readonly string[];
  /** the password matched one of the user's last `historyCount` password hashes */
  reusesRecent: boolean;
  /** the range API knows the password from a breach */
  breachedRemotely: boolean;
}

export const NO_CONTEXT: PasswordContext = { personalTokens: [], reusesRecent: false, breachedRemotely: false };

const LEET: Record<string, string> = { "@": "a", "4": "a", "3": "e", "1": "i", "!": "i", "0": "o", "$": "s", "5": "s", "7": "t" };

/** Common character swaps undone: "p@ssw0rd" is "password". */
function unleet(text: string): string {
  return text.replace(/[@4310!$57]/g, (c) => LEET[c]!);
}

/** Cores shorter than this are not looked up: "Xy-93817265" is not "xy". */
const MIN_CORE_LENGTH = 4;

/**
 * The forms of the password compared with the list: itself, lowercased, and
 * its core without the digits and symbols around it, as is and with common
 * swaps undone ("P@ssw0rd123!" gives "password").
 */
export function commonForms(password: string): string[] {
  const lower = password.toLowerCase();
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, "");
  const forms = [lower];
  if ([...core].length >= MIN_CORE_LENGTH) forms.push(core, unleet(core));
  return forms;
}

function isListed(password: string): boolean {
  const list = commonPasswords();
  return commonForms(password).some((form) => list.has(form));
}

/** The organization's own words count wherever they appear in the password, swapped characters too. */
function containsWord(password: string, words: readonly string[]): boolean {
  const lower = password.toLowerCase();
  const swapped = unleet(lower);
  return words.some((w) => lower.includes(w) || swapped.includes(w));
}

export function violatedRules(complexity: PasswordPolicy, rules: PasswordRulesPolicy, password: string, context: PasswordContext): Violation[] {
  const violations: Violation[] = [];
  const unmet = unmetRules(complexity, password);
  if (unmet.length > 0) {
    violations.push({ rule: "complexity", id: Ids.policyNotMet, key: "Errors.User.PasswordComplexityPolicy.NotMet", text: `it needs ${joinWords(unmet)}` });
  }
  if (rules.rejectPersonalData && personalTokensIn(password, context.personalTokens).length > 0) {
    violations.push({
      rule: "personalData",
      id: Ids.passwordPersonalData,
      key: "Errors.User.Password.ContainsPersonalData",
      text: "it contains the user's name, username or email address",
    });
  }
  if ((rules.rejectCommon && isListed(password)) || containsWord(password, rules.words)) {
    violations.push({ rule: "common", id: Ids.passwordCommon, key: "Errors.User.Password.Common", text: "it is a common password or contains a forbidden word" });
  }
  if (rules.rejectBreached && (context.breachedRemotely || commonPasswords().has(password.toLowerCase()))) {
    violations.push({ rule: "breached", id: Ids.passwordBreached, key: "Errors.User.Password.Breached", text: "it appeared in a data breach" });
  }
  if (rules.minStrength > 0) {
    const score = strengthScore(password, [...context.personalTokens, ...rules.words]);
    if (score < rules.minStrength) {
      violations.push({
        rule: "strength",
        id: Ids.passwordTooWeak,
        key: "Errors.User.Password.TooWeak",
        text: `it is too easy to guess (strength ${score} of 4, "${SCORE_WORDS[score]}"; at least ${rules.minStrength} is needed)`,
      });
    }
  }
  if (rules.historyCount > 0 && context.reusesRecent) {
    violations.push({
      rule: "history",
      id: Ids.passwordReused,
      key: "Errors.User.Password.ReusedRecently",
      text: `it is one of the last ${rules.historyCount} passwords of the user`,
    });
  }
  return violations;
}

function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}
