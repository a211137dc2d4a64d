import type * as http from "node:http";
import type * as http2 from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";
import cors from "cors";

const PREFLIGHT_MAX_AGE_SECONDS = 7200;

export type CorsHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => boolean;

/**
 * Adds CORS headers for the given origins ("*" allows any) and answers
 * preflight requests. Returns true when the request has been fully answered.
 * An empty list disables CORS: no headers are added and nothing is answered.
 * A preflight allows Connect's methods (GET, POST) and `methods`, those of
 * the routes served besides (the REST gateway's, DELETE among them).
 */
export function corsHandler(allowedOrigins: readonly string[], methods: readonly string[] = []): CorsHandler {
  if (allowedOrigins.length === 0) return () => false;

  const middleware = cors({
    origin: allowedOrigins.includes("*") ? "*" : [...allowedOrigins],
    methods: [...new Set([...connectCors.allowedMethods, ...methods])],
    allowedHeaders: [...connectCors.allowedHeaders, "Authorization"],
    exposedHeaders: [
      ...connectCors.exposedHeaders,
      "X-RateLimit-Limit",
      "X-RateLimit-Remaining",
      "X-RateLimit-Reset",
      "Retry-After",
    ],
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  });

  return (req, res) => {
    // With static options the middleware runs synchronously: it either
    // calls next() or ends the response itself (a preflight).
    let passedOn = false;
    middleware(req, res, () => {
      passedOn = true;
    });
    return !passedOn;
  };
}
