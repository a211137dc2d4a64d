import { randomInt } from "node:crypto";

/** An 18-digit numeric id, the shape ZITADEL's clients expect. */
export function newId(): string {
  const high = randomInt(100_000_000, 1_000_000_000);
  const low = randomInt(0, 1_000_000_000);
  return `${high}${String(low).padStart(9, "0")}`;
}
