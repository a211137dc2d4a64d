/**
 * Auth0's POST /dbconnections/change_password: starts a reset by email
 * address for an application's users, without a token, as Auth0 does.
 */
import { randomUUID } from "node:crypto";
import type { RequestOrigin } from "../http/origin.js";
import { allowsOrigin } from "../command/application/decide.js";
import { anyApplicationAllows, findApplication } from "../query/applications.js";
import { findConnection } from "../query/connections.js";
import type { UserCommands } from "../command/user/commands.js";
import type { EventStore } from "../eventstore/eventstore.js";
import type { Logger } from "../logger.js";
import { limitKey, type LimitCounter } from "../ratelimit/limits.js";
import { RATE_LIMIT_HEADERS, pickStatus, rateLimitHeaders, retryAfterSeconds, type LimitStatus } from "../ratelimit/rules.js";
import { BodyTooLargeError, readBody, requestUrl, sendJson, type HttpRequest, type HttpResponse, type JsonResponse } from "../http/io.js";
import type { HttpRoute } from "../http/route.js";
import { auth0Error, isError, parseChangePassword, type Auth0Error } from "./request.js";

export const CHANGE_PASSWORD_PATH = "/dbconnections/change_password";
export const CHANGE_PASSWORD_ANSWER = "We've just sent you an email to reset your password.";

const PREFLIGHT_MAX_AGE_SECONDS = 7200;
/** what auth0.js sends besides the body */
const ALLOWED_HEADERS = "Content-Type, Auth0-Client, X-Request-Language";

export interface ChangePasswordLimits {
  /** per client IP and email address */
  perEmail?: LimitCounter;
  /** per client IP over all email addresses */
  perAddress?: LimitCounter;
  /** per user the email leads to, shared with PasswordReset: checked before the user's reset */
  perUser?: LimitCounter;
}

export interface ChangePasswordOptions {
  store: EventStore;
  users: UserCommands;
  limits: ChangePasswordLimits;
  /** the client's address (for the rate limit and the reset's audit record) and user agent */
  requestOrigin: (req: HttpRequest) => RequestOrigin;
  maxBodyBytes: number;
  logger: Logger;
  /**
   * runs the reset after the answer, so that the answer takes as long whether
   * or not the email belongs to a user (and, see ResetQueue, so does the next)
   */
  runInBackground: (work: () => Promise<unknown>) => void;
}

export function changePasswordRoute(options: ChangePasswordOptions): HttpRoute {
  const { store, users, limits, logger } = options;
  const { perUser } = limits;
  const mayReset = perUser
    ? async (userId: string) => {
        const allowed = (await perUser.consume(userId)).retryAfterMs === undefined;
        if (!allowed) logger.info({ userId }, "change_password: the user's reset limit is reached, no code is sent");
        return allowed;
      }
    : undefined;

  async function serve(req: HttpRequest, res: HttpResponse, requestId: string): Promise<number> {
    const origin = header(req, "origin");
    // A browser may read the answer when some application allows its origin;
    // the request's own application is checked once it is known.
    const corsAllowed = origin !== undefined && (await anyApplicationAllows(store, origin));
    const base: Record<string, string> = { "x-request-id": requestId, ...(corsAllowed && { "Access-Control-Allow-Origin": origin, Vary: "Origin" }) };
    const fail = (error: Auth0Error, headers: Record<string, string> = {}) => {
      sendJson(res, error.status, { error: error.error, error_description: error.description }, { ...base, ...headers });
      return error.status;
    };

    if (req.method === "OPTIONS") {
      const preflight: Record<string, string> = corsAllowed
        ? { "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": ALLOWED_HEADERS, "Access-Control-Max-Age": String(PREFLIGHT_MAX_AGE_SECONDS) }
        : {};
      // the union of Node's two response types has no callable writeHead in @types/node 22
      (res as JsonResponse).writeHead(204, { ...base, ...preflight });
      res.end();
      return 204;
    }
    if (corsAllowed) base["Access-Control-Expose-Headers"] = RATE_LIMIT_HEADERS.join(", ");
    if (req.method !== "POST") return fail(auth0Error(405, "invalid_request", `${req.method} is not allowed, only POST`), { Allow: "POST, OPTIONS" });

    let body: string;
    try {
      body = await readBody(req, options.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return fail(auth0Error(413, "invalid_request", err.message));
      throw err;
    }
    const request = parseChangePassword(header(req, "content-type"), body);
    if (isError(request)) return fail(request);
    const app = await findApplication(store, request.clientId);
    if (!app) return fail(auth0Error(400, "invalid_client", "client_id does not name a registered application"));
    if (origin !== undefined && !allowsOrigin(app, origin)) return fail(auth0Error(403, "access_denied", `Origin ${origin} is not allowed for this application`));
    const org = await findConnection(store, request.connection);
    if (!org) return fail(auth0Error(400, "invalid_request", `connection ${request.connection} does not exist`));
    if (request.organization !== undefined && request.organization !== org.orgId) {
      return fail(auth0Error(400, "invalid_request", `connection ${request.connection} does not belong to organization ${request.organization}`));
    }

    const from = options.requestOrigin(req);
    const checks = [
      { limit: limits.perEmail, key: limitKey(from.clientIp, request.email.toLowerCase()), refusal: "Too many requests for this email address" },
      { limit: limits.perAddress, key: limitKey(from.clientIp), refusal: "Too many requests from this address" },
    ];
    const statuses: LimitStatus[] = [];
    for (const { limit, key, refusal } of checks) {
      if (!limit) continue;
      const status = await limit.consume(key);
      statuses.push(status);
      if (status.retryAfterMs !== undefined) {
        return fail(auth0Error(429, "too_many_requests", `${refusal}, try again in ${retryAfterSeconds(status)} s`), headersOf(statuses));
      }
    }

    sendJson(res, 200, CHANGE_PASSWORD_ANSWER, { ...base, ...headersOf(statuses) });
    const linkParams = request.organization !== undefined ? { organization_id: org.orgId, organization_name: org.name } : undefined;
    options.runInBackground(() =>
      users.requestPasswordResetByEmail(app.id, org.orgId, request.email, linkParams, from, mayReset).catch((err: unknown) => {
        logger.error({ err, clientId: app.clientId }, "change_password: reset failed");
      }),
    );
    return 200;
  }

  return (req, res) => {
    if (requestUrl(req).pathname !== CHANGE_PASSWORD_PATH) return false;
    const started = performance.now();
    const requestId = header(req, "x-request-id") ?? randomUUID();
    const line = { requestId, method: `${req.method} ${CHANGE_PASSWORD_PATH}`, protocol: "auth0" };
    serve(req, res, requestId).then(
      (status) => logger.info({ ...line, status, durationMs: Math.round(performance.now() - started) }, "call"),
      (err: unknown) => {
        logger.error({ ...line, err }, "change_password: unexpected error");
        if (!res.headersSent) sendJson(res, 500, { error: "server_error", error_description: "Internal error" });
        else res.end();
      },
    );
    return true;
  };
}

/** The headers of the limit closest to refusing, or of the one that refused. */
function headersOf(statuses: readonly LimitStatus[]): Record<string, string> {
  const status = pickStatus(statuses);
  return status ? rateLimitHeaders(status) : {};
}

function header(req: HttpRequest, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}
