/**
 * `npm run bench:password-rules`: what the password rules add to setting a
 * password, on this thread's CPU clock: the pure check with each rule alone
 * and with all of them, beside the argon2id hash every accepted password
 * costs and the verify each remembered password of the history costs.
 */
import { argon2idHasher } from "../src/crypto/passwords.js";
import { defaultConfig } from "../src/config.js";
import { DEFAULT_PASSWORD_POLICY } from "../src/command/password_policy.js";
import { NO_CONTEXT, violatedRules } from "../src/command/password_rules/check.js";
import { loadPasswordLists } from "../src/command/password_rules/common_passwords.js";
import { personalTokens } from "../src/command/password_rules/personal_data.js";
import { DEFAULT_PASSWORD_RULES, type PasswordRulesPolicy } from "../src/command/password_rules/policy.js";

// the checks run on this thread; argon2 runs in libuv's pool, so it is timed on the process's clock
const threadUs = () => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};
const processUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** CPU µs per call, over `n` calls after `n / 10` not counted */
async function perCall(n: number, fn: (i: number) => unknown, cpuUs = threadUs): Promise<number> {
  for (let i = 0; i < n / 10; i++) await fn(i);
  const start = cpuUs();
  for (let i = 0; i < n; i++) await fn(i);
  return (cpuUs() - start) / n;
}

const passwords = ["Quartz-Lantern-Fjord-91", "P@ssw0rd123!", "Ada-Lovelace-1815", "correct horse battery staple", "Zx9!kq2#Lm7$"];
const context = { ...NO_CONTEXT, personalTokens: personalTokens({ username: "ada", email: "ada.lovelace@example.com", givenName: "Ada", familyName: "Lovelace" }) };
const started = threadUs();
await loadPasswordLists();
const rows: [string, number][] = [["loading the lists and the estimator (once per process)", threadUs() - started]];
const alone: [string, Partial<PasswordRulesPolicy>][] = [
  ["complexity only (the default)", {}],
  ["personal data", { rejectPersonalData: true }],
  ["common passwords", { rejectCommon: true }],
  ["breached (shipped list)", { rejectBreached: true }],
  ["strength (zxcvbn-ts, minimum 3)", { minStrength: 3 }],
  ["every rule", { rejectPersonalData: true, rejectCommon: true, rejectBreached: true, minStrength: 3 }],
];
for (const [label, rules] of alone) {
  const policy = { ...DEFAULT_PASSWORD_RULES, ...rules };
  rows.push([`check: ${label}`, await perCall(20_000, (i) => violatedRules(DEFAULT_PASSWORD_POLICY, policy, passwords[i % passwords.length]!, context))]);
}
const { argon2 } = defaultConfig();
const hasher = argon2idHasher({ memoryCost: argon2.memoryKiB, timeCost: argon2.iterations, parallelism: argon2.parallelism });
const hash = await hasher.hash("Quartz-Lantern-Fjord-91");
rows.push(["argon2id hash of the new password (every accepted one)", await perCall(20, () => hasher.hash("Quartz-Lantern-Fjord-91"), processUs)]);
rows.push(["argon2id verify, per remembered password of the history", await perCall(20, () => hasher.verify(hash, "Another-Password-77"), processUs)]);

process.stdout.write("| what | CPU µs per call |\n| --- | ---: |\n");
for (const [label, us] of rows) process.stdout.write(`| ${label} | ${us.toFixed(us < 100 ? 1 : 0)} |\n`);
