import { randomInt } from "node:crypto";

export const CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** A verification code drawn uniformly from the alphabet with a crypto RNG. */
export function generateCode(length: number, alphabet: string = CODE_ALPHABET): string {
  let code = "";
  for (let i = 0; i < length; i++) code += alphabet[randomInt(alphabet.length)];
  return code;
}
