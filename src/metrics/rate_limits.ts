import type { RateLimits } from "../ratelimit/limits.js";
import type { LimitName, Metrics } from "./metrics.js";

/** Named as the flags that set them (--rate-limit-change-password, …). */
const NAMES: Record<keyof RateLimits, LimitName> = {
  changePassword: "change_password",
  changePasswordPerIp: "change_password_ip",
  anonymousPerIp: "anonymous_ip",
  resetPerUser: "reset_user",
  resetPerToken: "reset_token",
};

/**
 * Counts the calls each limit refuses. The limits' own `consume` is wrapped in
 * place, so every caller (the RPC interceptor, the Auth0 endpoint) is counted
 * without knowing about metrics.
 */
export function instrumentRateLimits(limits: RateLimits, metrics: Metrics): RateLimits {
  for (const key of Object.keys(NAMES) as (keyof RateLimits)[]) {
    const limit = limits[key];
    if (!limit) continue;
    const consume = limit.consume.bind(limit);
    const rejected = metrics.rejected(NAMES[key]);
    limit.consume = async (k) => {
      const status = await consume(k);
      if (status.retryAfterMs !== undefined) rejected.inc();
      return status;
    };
  }
  return limits;
}
