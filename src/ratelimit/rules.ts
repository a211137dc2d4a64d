/**
 * Rate limits as pure functions: their notation, the windows they are counted
 * in, and what a response reports about them.
 */

/** `points` per `periodSeconds`; with `burst`, that many at once, then `points` per period. */
export interface LimitSpec {
  points: number;
  periodSeconds: number;
  burst?: number;
}

export interface RateLimitSettings {
  /** false turns every limit off */
  enabled: boolean;
  /** per client IP and email address */
  changePassword?: LimitSpec;
  /** change_password per client IP, over all email addresses */
  changePasswordPerIp?: LimitSpec;
  /** calls without a token (SetPassword with a code) per client IP, on every protocol */
  anonymousPerIp?: LimitSpec;
  /** per target user, for resets that send a message */
  resetPerUser?: LimitSpec;
  /** per calling token, for every reset */
  resetPerToken?: LimitSpec;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  enabled: true,
  // Auth0's figures for this endpoint
  changePassword: { points: 1, periodSeconds: 60, burst: 10 },
  // Auth0's figures for its other message-sending endpoint counted per IP (passwordless start)
  changePasswordPerIp: { points: 50, periodSeconds: 3600 },
  // one person needs one to three calls; 30 at once covers many behind one NAT finishing together
  anonymousPerIp: { points: 10, periodSeconds: 60, burst: 30 },
  resetPerUser: { points: 10, periodSeconds: 3600 },
  resetPerToken: { points: 600, periodSeconds: 60 },
};

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** "10/h", "600/m", "5/30s", "1/m,burst=10"; "off" is undefined. Throws for anything else. */
export function parseLimitSpec(text: string): LimitSpec | undefined {
  const value = text.trim();
  if (value === "off") return undefined;
  const match = /^(\d+)\/(\d*)([smhd])(?:,burst=(\d+))?$/.exec(value);
  const points = Number(match?.[1]);
  const periodSeconds = Number(match?.[2] || 1) * UNIT_SECONDS[(match?.[3] ?? "s") as keyof typeof UNIT_SECONDS];
  const burst = match?.[4] === undefined ? undefined : Number(match[4]);
  if (!match || points < 1 || periodSeconds < 1 || (burst !== undefined && burst < points)) {
    throw new Error(`"${text}" is not a rate limit such as 10/h, 600/m, 1/m,burst=10 or off`);
  }
  return { points, periodSeconds, ...(burst !== undefined && burst > points && { burst }) };
}

/** A fixed window: at most `points` within `seconds` of the first of them. */
export interface Window {
  points: number;
  seconds: number;
}

/**
 * The windows a limit is counted in. A burst adds a second window holding the
 * points beyond the steady rate; they come back after the time the steady rate
 * takes to earn them all, so "1/m,burst=10" allows 10 at once, then 1 a
 * minute, and 10 at once again after 10 quiet minutes.
 */
export function windowsOf(spec: LimitSpec): Window[] {
  const steady = { points: spec.points, seconds: spec.periodSeconds };
  if (spec.burst === undefined) return [steady];
  return [steady, { points: spec.burst - spec.points, seconds: Math.ceil((spec.periodSeconds * spec.burst) / spec.points) }];
}

/** What a window's counter holds for a key; null when nothing was counted in the current window. */
export type Counter = { consumed: number; msBeforeNext: number } | null;

export interface LimitStatus {
  /** points of all windows together */
  limit: number;
  remaining: number;
  /** Unix ms when every point is back */
  resetAt: number;
  /** only when the call was refused: ms until a point is back */
  retryAfterMs?: number;
}

export function statusOf(windows: readonly Window[], counters: readonly Counter[], refused: boolean, now: number): LimitStatus {
  const used = counters.filter((c): c is NonNullable<Counter> => c !== null);
  const waits = used.map((c) => Math.max(0, c.msBeforeNext));
  return {
    limit: windows.reduce((sum, w) => sum + w.points, 0),
    remaining: windows.reduce((sum, w, i) => sum + Math.max(0, w.points - (counters[i]?.consumed ?? 0)), 0),
    resetAt: now + Math.max(0, ...waits),
    ...(refused && { retryAfterMs: Math.min(...waits) }),
  };
}

/** The status a response reports when several limits apply: a refusing one, else the closest to refusing. */
export function pickStatus(statuses: readonly LimitStatus[]): LimitStatus | undefined {
  const refused = statuses.filter((s) => s.retryAfterMs !== undefined);
  if (refused.length > 0) return refused.reduce((a, b) => (b.retryAfterMs! > a.retryAfterMs! ? b : a));
  return statuses.reduce<LimitStatus | undefined>((a, b) => (a === undefined || b.remaining < a.remaining ? b : a), undefined);
}

export const RATE_LIMIT_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"] as const;

/** X-RateLimit-Reset in Unix seconds as Auth0 sends it, and Retry-After in whole seconds for a refused call. */
export function rateLimitHeaders(status: LimitStatus): Record<string, string> {
  return {
    "X-RateLimit-Limit": String(status.limit),
    "X-RateLimit-Remaining": String(status.remaining),
    "X-RateLimit-Reset": String(Math.ceil(status.resetAt / 1000)),
    ...(status.retryAfterMs !== undefined && { "Retry-After": String(retryAfterSeconds(status)) }),
  };
}

export function retryAfterSeconds(status: LimitStatus): number {
  return Math.max(1, Math.ceil((status.retryAfterMs ?? 0) / 1000));
}
