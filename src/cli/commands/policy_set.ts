import fs from "node:fs";
import { DEFAULT_LOCKOUT_POLICY } from "../../command/lockout_policy.js";
import { setPasswordPolicies } from "../../command/org/password_policy.js";
import { DEFAULT_PASSWORD_POLICY, type PasswordPolicy } from "../../command/password_policy.js";
import { MAX_HISTORY_COUNT, parseWords, type PasswordRulesPolicy } from "../../command/password_rules/policy.js";
import { STORE_FLAGS, UsageError, command, required, text, toggle, wholeNumber, withStore, type Values } from "../command.js";

const FLAGS = {
  org: text("ID", "organization whose users the policy applies to", { required: true }),
  "min-length": text("N", `fewest characters in a password (default ${DEFAULT_PASSWORD_POLICY.minLength})`),
  "no-uppercase": toggle("do not require an uppercase letter"),
  "no-lowercase": toggle("do not require a lowercase letter"),
  "no-digit": toggle("do not require a digit"),
  "no-symbol": toggle("do not require a symbol"),
  "max-password-attempts": text("N", `wrong passwords and codes after which a user is locked, 0 for never (default ${DEFAULT_LOCKOUT_POLICY.maxPasswordAttempts})`),
  "password-history": text("N", `refuse the user's last N passwords, up to ${MAX_HISTORY_COUNT}; each change then verifies up to N argon2id hashes (default 0, off)`),
  "reject-common": toggle("refuse common passwords (a shipped list of about 49,000)"),
  "password-words-file": text("FILE", "file of the organization's own forbidden words, one a line (e.g. its name): passwords containing one are refused"),
  "reject-breached": toggle("refuse passwords known from breaches: the shipped list, and the server's --breached-range-url if set"),
  "reject-personal-data": toggle("refuse passwords containing the username, email local part, first or last name (parts of 3 characters or more)"),
  "min-strength": text("0-4", "lowest zxcvbn strength score accepted, 1 to 4 (default 0, off)"),
  "max-password-age": text("DAYS", "days after which a password must be changed: GetUserByID then says so (default 0, never)"),
  ...STORE_FLAGS,
};

export const policySet = command("policy set", "set an organization's password and lockout policy; prints it", FLAGS, async (values) => {
  const orgId = required(values, "org");
  const minLength = wholeNumber(values, "min-length");
  const maxAttempts = wholeNumber(values, "max-password-attempts");
  // every flag not given keeps the instance default, so the policy is always complete
  const complexity: PasswordPolicy = {
    minLength: minLength ?? DEFAULT_PASSWORD_POLICY.minLength,
    hasUppercase: values["no-uppercase"] === undefined,
    hasLowercase: values["no-lowercase"] === undefined,
    hasNumber: values["no-digit"] === undefined,
    hasSymbol: values["no-symbol"] === undefined,
  };
  const lockout = { maxPasswordAttempts: maxAttempts ?? DEFAULT_LOCKOUT_POLICY.maxPasswordAttempts };
  const rules = rulesFromFlags(values);
  return withStore(values, async (aggregates) => {
    await setPasswordPolicies(aggregates, orgId, { complexity, lockout, rules });
    const { words, ...shown } = rules;
    return JSON.stringify({ ...complexity, ...lockout, ...shown, wordCount: words.length });
  });
});

/** The password rules of `policy set`: every flag not given is off. */
function rulesFromFlags(values: Values): PasswordRulesPolicy {
  const wordsFile = values["password-words-file"];
  let words: string[] = [];
  if (wordsFile !== undefined) {
    try {
      words = parseWords(fs.readFileSync(wordsFile, "utf8"));
    } catch (err) {
      throw new UsageError(`--password-words-file: cannot read ${wordsFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return {
    historyCount: wholeNumber(values, "password-history") ?? 0,
    rejectCommon: values["reject-common"] !== undefined,
    rejectBreached: values["reject-breached"] !== undefined,
    rejectPersonalData: values["reject-personal-data"] !== undefined,
    minStrength: wholeNumber(values, "min-strength") ?? 0,
    maxAgeDays: wholeNumber(values, "max-password-age") ?? 0,
    words,
  };
}
