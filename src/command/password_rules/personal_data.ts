/**
 * The personal data a password must not contain: the tokens of the user's
 * username, email local part, first and last name, lowercased. Tokens are
 * split at anything that is not a letter or digit ("ada.lovelace" gives "ada"
 * and "lovelace"); shorter than 3 characters they are left out, since "al" or
 * "jo" would refuse too many good passwords.
 */
export interface PersonalData {
  username: string;
  email: string;
  givenName: string;
  familyName: string;
}

export const MIN_TOKEN_LENGTH = 3;

export function personalTokens(person: PersonalData): string[] {
  const localPart = person.email.includes("@") ? person.email.slice(0, person.email.lastIndexOf("@")) : person.email;
  const username = person.username.includes("@") ? person.username.slice(0, person.username.lastIndexOf("@")) : person.username;
  const sources = [username, localPart, person.givenName, person.familyName];
  const tokens = sources.flatMap((s) => s.toLowerCase().split(/[^\p{L}\p{N}]+/u)).filter((t) => [...t].length >= MIN_TOKEN_LENGTH);
  return [...new Set(tokens)];
}

/** The personal tokens the password contains, case-insensitively. */
export function personalTokensIn(password: string, tokens: readonly string[]): string[] {
  const lower = password.toLowerCase();
  return tokens.filter((t) => lower.includes(t));
}
