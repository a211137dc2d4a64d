/**
 * Remembers accepted tokens for a short time, so a busy caller's token is not
 * looked up on every call. The price is a bounded delay: a token whose user is
 * locked, deactivated or removed keeps working for at most `ttlMs`. Rejected
 * tokens are never remembered, so guessing cannot fill the cache.
 */
import { hashToken } from "../crypto/tokens.js";
import type { Principal } from "./permissions.js";

export type Authenticate = (token: string) => Promise<Principal | undefined>;

export interface TokenCacheOptions {
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}

export function cachedAuthenticate(authenticate: Authenticate, options: TokenCacheOptions): Authenticate {
  if (options.ttlMs <= 0) return authenticate;
  const now = options.now ?? Date.now;
  // Map keeps insertion order: the first key is the oldest entry.
  const entries = new Map<string, { principal: Principal; expiresAt: number }>();
  return async (token) => {
    const key = hashToken(token);
    const hit = entries.get(key);
    if (hit && hit.expiresAt > now()) return hit.principal;
    entries.delete(key);
    const principal = await authenticate(token);
    if (principal) {
      if (entries.size >= options.maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { principal, expiresAt: now() + options.ttlMs });
    }
    return principal;
  };
}
