/**
 * Remembers accepted tokens for a short time, so a busy caller's token is not
 * looked up on every call. The price is a bounded delay: a token whose user is
 * locked, deactivated or removed keeps working for at most `ttlMs`. Rejected
 * tokens are never remembered, so guessing cannot fill the cache.
 */
import type { Principal } from "./permissions.js";

/** Finds the principal of a bearer token by the token's hash (see hashToken): tokens are stored only so. */
export type Authenticate = (tokenHash: string) => Promise<Principal | undefined>;

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
  return async (tokenHash) => {
    const hit = entries.get(tokenHash);
    if (hit && hit.expiresAt > now()) return hit.principal;
    entries.delete(tokenHash);
    const principal = await authenticate(tokenHash);
    if (principal) {
      if (entries.size >= options.maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(tokenHash, { principal, expiresAt: now() + options.ttlMs });
    }
    return principal;
  };
}
