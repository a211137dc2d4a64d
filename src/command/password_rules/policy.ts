/**
 * The password rules an organization adds to ZITADEL's complexity policy:
 * history, common and breached passwords, personal data, strength and
 * maximum age. Every rule is off by default.
 */
import { invalidArgument } from "../../errors/errors.js";

export interface PasswordRulesPolicy {
  /** the user's last N passwords may not be chosen again; 0: off */
  historyCount: number;
  /** refuse passwords from the shipped list of common passwords and the organization's own words */
  rejectCommon: boolean;
  /** refuse passwords known from breaches (the shipped list, and the range API when the server has one) */
  rejectBreached: boolean;
  /** refuse passwords that contain the user's username, email local part, first or last name */
  rejectPersonalData: boolean;
  /** the lowest zxcvbn score (0..4) accepted; 0: off */
  minStrength: number;
  /** days after which the password must be changed; 0: never */
  maxAgeDays: number;
  /** the organization's own forbidden words, lowercase: a password containing one is refused; empty: off */
  words: string[];
}

export const DEFAULT_PASSWORD_RULES: PasswordRulesPolicy = {
  historyCount: 0,
  rejectCommon: false,
  rejectBreached: false,
  rejectPersonalData: false,
  minStrength: 0,
  maxAgeDays: 0,
  words: [],
};

/** As Auth0: at most the last 24 passwords are remembered. */
export const MAX_HISTORY_COUNT = 24;
export const MAX_STRENGTH = 4;
export const MAX_AGE_DAYS = 3650;
export const MAX_WORDS = 10_000;
export const MAX_WORD_LENGTH = 200;

function wholeNumberIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** Checks rules an operator wants to set. */
export function checkRulesPolicy(policy: PasswordRulesPolicy): void {
  if (!wholeNumberIn(policy.historyCount, 0, MAX_HISTORY_COUNT)) {
    throw invalidArgument("POLICY-H1stc", "Errors.Policy.Password.HistoryCount", `The password history must be a whole number from 0 (off) to ${MAX_HISTORY_COUNT}`);
  }
  if (!wholeNumberIn(policy.minStrength, 0, MAX_STRENGTH)) {
    throw invalidArgument("POLICY-Str3n", "Errors.Policy.Password.MinStrength", `The minimum strength must be a whole number from 0 (off) to ${MAX_STRENGTH}`);
  }
  if (!wholeNumberIn(policy.maxAgeDays, 0, MAX_AGE_DAYS)) {
    throw invalidArgument("POLICY-Ag3dy", "Errors.Policy.Password.MaxAge", `The maximum password age must be a whole number of days from 0 (never) to ${MAX_AGE_DAYS}`);
  }
  if (policy.words.length > MAX_WORDS || policy.words.some((w) => w.length === 0 || w.length > MAX_WORD_LENGTH)) {
    throw invalidArgument(
      "POLICY-W0rds",
      "Errors.Policy.Password.Words",
      `The forbidden words must be at most ${MAX_WORDS}, each of 1 to ${MAX_WORD_LENGTH} characters`,
    );
  }
}

/** The words of a words file: one per line, trimmed, lowercased, without blank lines, `#` comments and repeats. */
export function parseWords(text: string): string[] {
  const words = text
    .split(/\r?\n/)
    .map((line) => line.trim().toLowerCase())
    .filter((line) => line !== "" && !line.startsWith("#"));
  return [...new Set(words)];
}

/** True when the password, last changed at `changedAt`, is older than the policy allows. */
export function passwordExpired(maxAgeDays: number, changedAt: Date | undefined, now: Date): boolean {
  if (maxAgeDays <= 0 || changedAt === undefined) return false;
  return now.getTime() - changedAt.getTime() > maxAgeDays * 86_400_000;
}
