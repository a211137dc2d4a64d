/**
 * A k-anonymity range API of breached passwords in the format of Have I Been
 * Pwned's `GET {url}/{first 5 hex digits of SHA-1}`: the answer lists the
 * remaining 35 hex digits of every known hash with that prefix, one
 * `SUFFIX:COUNT` a line. Only the 5-digit prefix leaves the server, never the
 * password nor its full hash; the comparison happens here.
 *
 * When the API cannot be asked (down, slow, an unexpected answer) the
 * password is let through and a warning logged: the offline list still
 * applies, and an outage elsewhere should not stop every password change.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../../logger.js";

export interface BreachRange {
  /** true when the API lists the password; false when it does not, or could not be asked */
  isBreached(password: string): Promise<boolean>;
}

export const BREACH_RANGE_TIMEOUT_MS = 3000;

/** The prefix sent and the suffix looked for, both uppercase hex. */
export function rangeKey(password: string): { prefix: string; suffix: string } {
  const hex = createHash("sha1").update(password, "utf8").digest("hex").toUpperCase();
  return { prefix: hex.slice(0, 5), suffix: hex.slice(5) };
}

/** Whether a range answer lists the suffix with a count above 0 (padding lines have 0). */
export function rangeListsSuffix(body: string, suffix: string): boolean {
  for (const line of body.split(/\r?\n/)) {
    const [hash, count] = line.trim().split(":");
    if (hash?.toUpperCase() === suffix && Number(count) > 0) return true;
  }
  return false;
}

export function breachRange(options: { url: string; logger: Logger; timeoutMs?: number }): BreachRange {
  const base = options.url.replace(/\/+$/, "");
  return {
    async isBreached(password) {
      const { prefix, suffix } = rangeKey(password);
      try {
        const res = await fetch(`${base}/${prefix}`, {
          headers: { "add-padding": "true", "user-agent": "latchkey" },
          signal: AbortSignal.timeout(options.timeoutMs ?? BREACH_RANGE_TIMEOUT_MS),
        });
        if (!res.ok) throw new Error(`status ${res.status}`);
        return rangeListsSuffix(await res.text(), suffix);
      } catch (err) {
        // neither the prefix nor the password: only that the check was skipped
        options.logger.warn({ reason: err instanceof Error ? err.message : String(err) }, "breached-password range API failed; the password was let through unchecked by it");
        return false;
      }
    },
  };
}
