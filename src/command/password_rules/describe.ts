/** The password rules in words for the hosted page: what a password must not be, one item a rule. */
import type { PasswordRulesPolicy } from "./policy.js";

export function describeRules(rules: PasswordRulesPolicy): string[] {
  const items: string[] = [];
  if (rules.historyCount === 1) items.push("be your current password");
  if (rules.historyCount > 1) items.push(`be one of your last ${rules.historyCount} passwords`);
  if (rules.rejectCommon) items.push("be a commonly used password");
  if (rules.words.length > 0) items.push("contain a word your organization forbids");
  if (rules.rejectBreached) items.push("be known from a data breach");
  if (rules.rejectPersonalData) items.push("contain your name, username or email address");
  return items;
}
