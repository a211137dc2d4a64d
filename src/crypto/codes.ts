import { createHash, randomInt, timingSafeEqual } from "node:crypto";

export const CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** A verification code drawn uniformly from the alphabet with a crypto RNG. */
export function generateCode(length: number, alphabet: string = CODE_ALPHABET): string {
  let code = "";
  for (let i = 0; i < length; i++) code += alphabet[randomInt(alphabet.length)];
  return code;
}

/**
 * Compares a code in constant time. Both sides are hashed first so the
 * buffers have equal length and the length of the right code does not leak.
 */
export function codesEqual(expected: string, given: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(expected), digest(given));
}
