/** The limits latchkey enforces, counted with rate-limiter-flexible in a RateLimitStore. */
import { createHash } from "node:crypto";
import { BurstyRateLimiter, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { statusOf, windowsOf, type LimitSpec, type LimitStatus, type RateLimitSettings, type Window } from "./rules.js";
import type { RateLimitStore } from "./store.js";

/** Counts calls against one limit; `Limit` counts here, `remoteRateLimits` in another thread. */
export interface LimitCounter {
  /** Counts a call; the status tells whether it was refused (retryAfterMs). */
  consume(key: string): Promise<LimitStatus>;
  /** Gives back a point, for a call that turned out to cost nothing. */
  refund(key: string): Promise<LimitStatus>;
}

export class Limit implements LimitCounter {
  private readonly windows: Window[];
  private readonly limiters: RateLimiterAbstract[];
  private readonly counter: Pick<RateLimiterAbstract, "consume">;

  constructor(store: RateLimitStore, name: string, spec: LimitSpec) {
    this.windows = windowsOf(spec);
    this.limiters = this.windows.map((w, i) => store.limiter({ keyPrefix: i === 0 ? name : `${name}.burst`, points: w.points, duration: w.seconds }));
    const [steady, burst] = this.limiters as [RateLimiterAbstract, RateLimiterAbstract?];
    this.counter = burst ? new BurstyRateLimiter(steady, burst) : steady;
  }

  /** Counts a call; the status tells whether it was refused (retryAfterMs). */
  async consume(key: string): Promise<LimitStatus> {
    let refused = false;
    let result: RateLimiterRes;
    try {
      result = await this.counter.consume(key);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      refused = true;
      result = err;
    }
    return this.status(key, refused, result);
  }

  /** Gives back a point of the steady window, for a call that turned out to cost nothing. */
  async refund(key: string): Promise<LimitStatus> {
    return this.status(key, false, await this.limiters[0]!.reward(key));
  }

  /** With one window the counter's answer is its state; with a burst window both are read. */
  private async status(key: string, refused: boolean, result: RateLimiterRes): Promise<LimitStatus> {
    const results = this.limiters.length === 1 ? [result] : await Promise.all(this.limiters.map((l) => l.get(key)));
    const counters = results.map((r) => r && { consumed: r.consumedPoints, msBeforeNext: r.msBeforeNext });
    return statusOf(this.windows, counters, refused, Date.now());
  }
}

/** The limits in force; an absent one is off. */
export interface RateLimits {
  changePassword?: LimitCounter;
  changePasswordPerIp?: LimitCounter;
  anonymousPerIp?: LimitCounter;
  resetPerUser?: LimitCounter;
  resetPerToken?: LimitCounter;
}

export function createRateLimits(store: RateLimitStore, settings: RateLimitSettings): RateLimits {
  const limits: RateLimits = {};
  if (!settings.enabled) return limits;
  if (settings.changePassword) limits.changePassword = new Limit(store, "change_password", settings.changePassword);
  if (settings.changePasswordPerIp) limits.changePasswordPerIp = new Limit(store, "change_password.ip", settings.changePasswordPerIp);
  if (settings.anonymousPerIp) limits.anonymousPerIp = new Limit(store, "anonymous.ip", settings.anonymousPerIp);
  if (settings.resetPerUser) limits.resetPerUser = new Limit(store, "password_reset.user", settings.resetPerUser);
  if (settings.resetPerToken) limits.resetPerToken = new Limit(store, "password_reset.token", settings.resetPerToken);
  return limits;
}

/** Counter keys are hashed: the counter table holds no addresses or tokens. */
export function limitKey(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\n")).digest("base64url");
}
