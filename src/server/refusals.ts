/**
 * Requests refused before they reach a method: malformed REST JSON, unknown
 * paths, wrong methods, bodies too large or not JSON, Connect and gRPC bodies
 * that do not decode. No interceptor sees them, so they get their log line
 * and their count here: request id, HTTP method, path without its query and
 * status, never a body or a query string.
 */
import { randomUUID } from "node:crypto";
import { Code, ConnectError, createContextKey, type ContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../logger.js";
import type { RefusalProtocol } from "../metrics/metrics.js";
import { requestUrl, type HttpRequest, type HttpResponse } from "../http/io.js";

/** What is known of one request while it is handled. */
interface Exchange {
  /** an interceptor saw it: the call is logged and counted as a call */
  reached: boolean;
  /** the error a Connect, gRPC or gRPC-web call ended in */
  code?: Code;
}

export interface RefusalOptions {
  logger: Logger;
  /** counts a refusal; without it they are only logged */
  count?: (protocol: RefusalProtocol, status: string) => void;
  /** whether a path is one of the REST gateway's */
  isRestPath: (path: string) => boolean;
}

export interface Refusals {
  /** Handles one request with `handle`, and logs and counts it if it is refused before a method. */
  observe(req: HttpRequest, res: HttpResponse, handle: () => void): void;
  /** The context values of a call on an observed request: they tell the interceptor which request it is. */
  values(req: HttpRequest, values: ContextValues): ContextValues;
  /** Outermost in every interceptor chain: the request reached a method. */
  interceptor: Interceptor;
  /** For a Connect request gate: the error a call ended in, also when it never reached its method. */
  ended(context: HandlerContext, reason: unknown): void;
}

/** Longest path written to the log; the rest of a longer one is cut off. */
const MAX_LOGGED_PATH = 256;

/** Where observe() keeps a request's exchange, for values() to find. */
const EXCHANGE = Symbol("latchkey.exchange");
type ObservedRequest = HttpRequest & { [EXCHANGE]?: Exchange };

const exchangeKey = createContextKey<Exchange | undefined>(undefined, { description: "what is known of the request while it is handled" });

export function refusals({ logger, count, isRestPath }: RefusalOptions): Refusals {
  return {
    observe(req, res, handle) {
      const requestId = requestIdOf(req);
      res.setHeader("x-request-id", requestId);
      const exchange: Exchange = { reached: false };
      (res as NodeJS.EventEmitter).once("finish", () => {
        if (exchange.reached) return;
        const path = requestUrl(req).pathname;
        const protocol = protocolOf(req, path, isRestPath);
        const status = refusalStatus(protocol, res.statusCode, exchange.code);
        if (status === undefined) return;
        const level = status === "Internal" || status === "Unknown" ? "error" : "info";
        logger[level]({ requestId, method: req.method, path: path.slice(0, MAX_LOGGED_PATH), protocol, status }, "refused");
        count?.(protocol, status);
      });
      (req as ObservedRequest)[EXCHANGE] = exchange;
      handle();
    },

    values: (req, values) => values.set(exchangeKey, (req as ObservedRequest)[EXCHANGE]),

    interceptor: (next) => (req) => {
      const exchange = req.contextValues.get(exchangeKey);
      if (exchange) exchange.reached = true;
      return next(req);
    },

    ended(context, reason) {
      const exchange = context.values.get(exchangeKey);
      if (exchange && reason instanceof ConnectError) exchange.code = reason.code;
    },
  };
}

/**
 * The request's id: the client's X-Request-ID, else a new one. A new one is
 * put into the request's headers, so that a call that reaches its method is
 * logged under the same id as its answer carries.
 */
function requestIdOf(req: HttpRequest): string {
  const given = req.headers["x-request-id"];
  if (typeof given === "string" && given !== "") return given;
  const id = randomUUID();
  req.headers["x-request-id"] = id;
  return id;
}

function protocolOf(req: HttpRequest, path: string, isRestPath: (path: string) => boolean): RefusalProtocol {
  const contentType = req.headers["content-type"] ?? "";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  if (isRestPath(path)) return "rest";
  // /package.Service/Method
  return /^\/(?:\w+\.)+\w+\/\w+$/.test(path) ? "connect" : "http";
}

/**
 * The status a refused request is logged and counted with: the gRPC code name
 * over gRPC and gRPC-web, whose errors come with HTTP 200, else the HTTP
 * status. undefined for an answer that refuses nothing (a health check, the
 * reset page, a CORS preflight, a server error).
 */
function refusalStatus(protocol: RefusalProtocol, httpStatus: number, code: Code | undefined): string | undefined {
  if ((protocol === "grpc" || protocol === "grpc-web") && httpStatus === 200) {
    return code === undefined ? undefined : Code[code];
  }
  return httpStatus >= 400 && httpStatus < 500 ? String(httpStatus) : undefined;
}
