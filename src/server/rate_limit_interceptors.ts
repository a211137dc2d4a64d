/**
 * The limits of RPCs on every protocol (gRPC, gRPC-web, Connect and the REST
 * gateway all run these interceptors): calls without a token per client
 * address, and PasswordReset's. Counting and reporting are apart, because a
 * limit is counted after authentication while its status must reach the
 * response however the call ends, also as an error the error interceptor made.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { ConnectError, createContextKey, type ContextValues, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { UserService, type PasswordResetRequest } from "../../gen/zitadel/user/v2/user_service_pb.js";
import { UserService as UserServiceV2beta } from "../../gen/zitadel/user/v2beta/user_service_pb.js";
import { originKey, tokenHashKey } from "../api/context.js";
import { resourceExhausted } from "../errors/errors.js";
import { limitKey, type LimitCounter, type RateLimits } from "../ratelimit/limits.js";
import { pickStatus, rateLimitHeaders, retryAfterSeconds, type LimitStatus } from "../ratelimit/rules.js";

/** Both editions of the UserService count against the same limits. */
const PASSWORD_RESET: ReadonlySet<DescMethod> = new Set([UserService.method.passwordReset, UserServiceV2beta.method.passwordReset]);

/** The status of each limit that counted the call, by limit. */
const limitStatusKey = createContextKey<Readonly<Record<string, LimitStatus>>>({}, { description: "rate limit status of the call" });

function report(req: { contextValues: ContextValues }, limit: string, status: LimitStatus): void {
  req.contextValues.set(limitStatusKey, { ...req.contextValues.get(limitStatusKey), [limit]: status });
}

/** Outside the error interceptor: puts the call's limit status into the response headers or the error's metadata. */
export function rateLimitHeadersInterceptor(): Interceptor {
  return (next) => async (req) => {
    const headers = () => {
      const status = pickStatus(Object.values(req.contextValues.get(limitStatusKey)));
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
  return (next) => (req) => (PASSWORD_RESET.has(req.method) ? limited(req, next) : next(req));

  async function limited(req: UnaryRequest | StreamRequest, next: Parameters<Interceptor>[0]) {
    // the v2beta request has the same fields
    const message = req.message as PasswordResetRequest;
    // set by authentication, which accepted the token
    const tokenHash = req.contextValues.get(tokenHashKey);
    const checks: { name: string; limit: LimitCounter; key: string; refusal: string; refundable?: boolean }[] = [];
    if (limits.resetPerToken && tokenHash !== undefined) {
      checks.push({ name: "token", limit: limits.resetPerToken, key: tokenHash, refusal: "Too many password resets with this token" });
    }
    if (limits.resetPerUser && message.medium.case !== "returnCode") {
      // a reset that fails sends nothing, so it does not count against the user
      checks.push({ name: "user", limit: limits.resetPerUser, key: message.userId, refusal: "Too many password reset messages for this user", refundable: true });
    }

    for (const check of checks) {
      const status = await check.limit.consume(check.key);
      report(req, check.name, status);
      if (status.retryAfterMs !== undefined) {
        throw resourceExhausted("RATELIMIT-Rs7q1", "Errors.RateLimit.Exceeded", `${check.refusal}, try again in ${retryAfterSeconds(status)} s`);
      }
    }
    try {
      return await next(req);
    } catch (err) {
      for (const check of checks) if (check.refundable) report(req, check.name, await check.limit.refund(check.key));
      throw err;
    }
  }
}

/**
 * After authentication, before validation: counts every call made without a
 * token against its client address (as the server found it, see
 * requestOrigin), so that guessing SetPassword's codes or current passwords
 * from one address is slow on every protocol. Calls with a token, which
 * authentication has accepted, are not counted; nor are the gRPC
 * infrastructure services (health, reflection), which probes call.
 */
export function anonymousLimitInterceptor(limit: LimitCounter): Interceptor {
  return (next) => async (req) => {
    if (req.header.get("authorization") !== null || req.service.typeName.startsWith("grpc.")) return next(req);
    const status = await limit.consume(limitKey(req.contextValues.get(originKey)?.clientIp ?? ""));
    report(req, "anonymous", status);
    if (status.retryAfterMs !== undefined) {
      throw resourceExhausted("RATELIMIT-An0n1", "Errors.RateLimit.Exceeded", `Too many calls without a token from this address, try again in ${retryAfterSeconds(status)} s`);
    }
    return next(req);
  };
}
