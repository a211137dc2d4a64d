/**
 * PasswordReset's limits on every protocol (gRPC, gRPC-web, Connect and the
 * REST gateway all run these interceptors). Two parts, because the limit is
 * counted after authentication and validation while its status must reach the
 * response however the call ends, also as an error the error interceptor made.
 */
import { ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { UserService, type PasswordResetRequest } from "../../gen/zitadel/user/v2/user_service_pb.js";
import { UserService as UserServiceV2beta } from "../../gen/zitadel/user/v2beta/user_service_pb.js";
import { hashToken } from "../crypto/tokens.js";
import { resourceExhausted } from "../errors/errors.js";
import { parseBearer } from "../server/interceptors.js";
import type { Limit, RateLimits } from "./limits.js";
import { pickStatus, rateLimitHeaders, retryAfterSeconds, type LimitStatus } from "./rules.js";

/** Both editions of the UserService count against the same limits. */
const PASSWORD_RESET = new Set([UserService, UserServiceV2beta].map((s) => `${s.typeName}/${s.method.passwordReset.name}`));

const limitStatusKey = createContextKey<LimitStatus | undefined>(undefined, { description: "rate limit status of the call" });

/** Outside the error interceptor: puts the call's limit status into the response headers or the error's metadata. */
export function rateLimitHeadersInterceptor(): Interceptor {
  return (next) => async (req) => {
    const headers = () => {
      const status = req.contextValues.get(limitStatusKey);
      return status ? Object.entries(rateLimitHeaders(status)) : [];
    };
    try {
      const res = await next(req);
      for (const [name, value] of headers()) res.header.set(name, value);
      return res;
    } catch (err) {
      if (err instanceof ConnectError) for (const [name, value] of headers()) err.metadata.set(name, value);
      throw err;
    }
  };
}

/**
 * After authentication and validation, before the command: counts the call
 * against the calling token's limit and, when it sends a message, the target
 * user's. A refused call reaches no command, so it writes and sends nothing.
 */
export function passwordResetLimitInterceptor(limits: RateLimits): Interceptor {
  return (next) => async (req) => {
    if (!PASSWORD_RESET.has(`${req.service.typeName}/${req.method.name}`)) return next(req);
    // the v2beta request has the same fields
    const message = req.message as PasswordResetRequest;
    const token = parseBearer(req.header.get("authorization"));
    const checks: { limit: Limit; key: string; refusal: string; refundable?: boolean }[] = [];
    if (limits.resetPerToken && token !== undefined) {
      checks.push({ limit: limits.resetPerToken, key: hashToken(token), refusal: "Too many password resets with this token" });
    }
    if (limits.resetPerUser && message.medium.case !== "returnCode") {
      // a reset that fails sends nothing, so it does not count against the user
      checks.push({ limit: limits.resetPerUser, key: message.userId, refusal: "Too many password reset messages for this user", refundable: true });
    }

    const statuses: LimitStatus[] = [];
    const report = () => req.contextValues.set(limitStatusKey, pickStatus(statuses));
    for (const check of checks) {
      const status = await check.limit.consume(check.key);
      statuses.push(status);
      report();
      if (status.retryAfterMs !== undefined) {
        throw resourceExhausted("RATELIMIT-Rs7q1", "Errors.RateLimit.Exceeded", `${check.refusal}, try again in ${retryAfterSeconds(status)} s`);
      }
    }
    try {
      return await next(req);
    } catch (err) {
      for (const [i, check] of checks.entries()) if (check.refundable) statuses[i] = await check.limit.refund(check.key);
      report();
      throw err;
    }
  };
}
