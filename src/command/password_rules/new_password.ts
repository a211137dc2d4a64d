/**
 * Checks a new password against an organization's policies: first what
 * needs the hash queue or the network (the history, the range API), then the
 * one pure check. Hashes the password only when it passes.
 *
 * Cost: a history of N makes each password change verify up to N argon2id
 * hashes (stopping at the first match, newest first) on top of the one hash
 * of the new password, all through the process's hash queue.
 */
import type { PasswordHasher } from "../../crypto/passwords.js";
import type { PasswordPolicy } from "../password_policy.js";
import type { BreachRange } from "./breach_range.js";
import { violatedRules, type Violation } from "./check.js";
import { loadPasswordLists } from "./common_passwords.js";
import { personalTokens, type PersonalData } from "./personal_data.js";
import type { PasswordRulesPolicy } from "./policy.js";

/** The new password after the check: its hash, or every rule it breaks. */
export type CheckedPassword = { ok: true; hash: string } | { ok: false; violations: readonly Violation[] };

export interface PasswordChecker {
  hasher: PasswordHasher;
  /** asked when an organization rejects breached passwords; without it only the shipped list is */
  breachRange?: BreachRange;
}

export interface PasswordOwner {
  person: PersonalData;
  /** hashes of the user's passwords, newest first */
  history: readonly string[];
}

/** True when the password matches one of the hashes; verifies one after another and stops at a match. */
export async function reusesPassword(hasher: PasswordHasher, hashes: readonly string[], password: string): Promise<boolean> {
  for (const hash of hashes) if (await hasher.verify(hash, password)) return true;
  return false;
}

export async function checkNewPassword(
  checker: PasswordChecker,
  policies: { complexity: PasswordPolicy; rules: PasswordRulesPolicy },
  owner: PasswordOwner,
  password: string,
): Promise<CheckedPassword> {
  const { rules } = policies;
  const reusesRecent = rules.historyCount > 0 && (await reusesPassword(checker.hasher, owner.history.slice(0, rules.historyCount), password));
  const breachedRemotely = rules.rejectBreached && checker.breachRange !== undefined && (await checker.breachRange.isBreached(password));
  if (rules.rejectCommon || rules.rejectBreached || rules.minStrength > 0) await loadPasswordLists();
  const tokens = rules.rejectPersonalData || rules.minStrength > 0 ? personalTokens(owner.person) : [];
  const violations = violatedRules(policies.complexity, rules, password, { personalTokens: tokens, reusesRecent, breachedRemotely });
  return violations.length > 0 ? { ok: false, violations } : { ok: true, hash: await checker.hasher.hash(password) };
}
