/**
 * The lockout policy (ZITADEL's LockoutPolicy): after how many failed
 * password checks a user is locked. An instance default, overridden per
 * organization. Wrong current passwords and wrong reset codes both count.
 */
import { invalidArgument } from "../errors/errors.js";

export interface LockoutPolicy {
  /** failed checks that lock the user; 0: never */
  maxPasswordAttempts: number;
}

export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = { maxPasswordAttempts: 10 };

export const MAX_PASSWORD_ATTEMPTS_LIMIT = 1000;

/** True when a user's `failures`-th failed check reaches the limit. */
export function reachesLockout(maxPasswordAttempts: number, failures: number): boolean {
  return maxPasswordAttempts > 0 && failures >= maxPasswordAttempts;
}

/** Checks a policy an operator wants to set. */
export function checkLockoutPolicy(policy: LockoutPolicy): void {
  const n = policy.maxPasswordAttempts;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PASSWORD_ATTEMPTS_LIMIT) {
    throw invalidArgument(
      "POLICY-Lk7m2",
      "Errors.Policy.Lockout.MaxAttempts",
      `The maximum of password attempts must be a whole number from 0 (no lockout) to ${MAX_PASSWORD_ATTEMPTS_LIMIT}`,
    );
  }
}
