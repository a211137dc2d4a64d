import { hash, randomBytes } from "node:crypto";

/** A personal access token: 256 random bits, shown once, stored only as a hash. */
export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Tokens carry 256 bits of entropy, so a plain SHA-256 is a sufficient one-way hash. */
export function hashToken(token: string): string {
  return hash("sha256", token, "hex");
}
