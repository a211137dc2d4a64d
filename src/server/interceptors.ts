import { randomUUID } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { accessLogger, type Logger } from "../logger.js";
import { UserService } from "../../gen/zitadel/user/v2/user_service_pb.js";
import { UserService as UserServiceV2beta } from "../../gen/zitadel/user/v2beta/user_service_pb.js";
import { originKey, principalKey, tokenHashKey } from "../api/context.js";
import type { Principal } from "../command/permissions.js";
import type { Authenticate } from "../command/token_cache.js";
import { hashToken } from "../crypto/tokens.js";
import { describeCauses } from "../errors/cause.js";
import { unauthenticated } from "../errors/errors.js";
import { toConnectError } from "../errors/to_connect.js";
import { parseBearer } from "../http/bearer.js";

/** Methods a caller may use without a token: holding a reset code authorizes SetPassword (and only that, see the handler), in either edition of the UserService. */
const ANONYMOUS_METHODS: ReadonlySet<DescMethod> = new Set([UserService.method.setPassword, UserServiceV2beta.method.setPassword]);
/** Services anyone may call: they describe the schema and the server's health, no data. */
const ANONYMOUS_SERVICES = new Set(["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "grpc.health.v1.Health"]);

export function allowsAnonymous(method: DescMethod): boolean {
  return ANONYMOUS_METHODS.has(method) || ANONYMOUS_SERVICES.has(method.parent.typeName);
}

function protocolOf(contentType: string | null): string {
  if (!contentType) return "unknown";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** The request's `user_id`, if it has one: a string field of a unary request, cut to the length validation allows. */
function targetUserId(req: Parameters<Parameters<Interceptor>[0]>[0]): string | undefined {
  if (req.stream) return undefined;
  const userId = (req.message as { userId?: unknown }).userId;
  return typeof userId === "string" && userId !== "" ? userId.slice(0, 200) : undefined;
}

/**
 * One log line per call: request id, method, protocol, target user, client
 * address, status, duration. Never the payload otherwise: no password, no code.
 * `protocol` names it for routers that see no client's content type (the REST gateway's).
 */
export function loggingInterceptor(logger: Logger, protocol?: string): Interceptor {
  const access = accessLogger(logger);
  return (next) => async (req) => {
    const started = performance.now();
    const requestId = req.header.get("x-request-id") ?? randomUUID();
    const userId = targetUserId(req);
    const clientIp = req.contextValues.get(originKey)?.clientIp;
    const line = {
      requestId,
      method: `${req.service.typeName}/${req.method.name}`,
      protocol: protocol ?? protocolOf(req.header.get("content-type")),
      ...(userId !== undefined && { userId }),
      ...(clientIp !== undefined && { clientIp }),
    };
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      access.info({ ...line, status: "ok", durationMs: Math.round(performance.now() - started) }, "call");
      return res;
    } catch (err) {
      const error = ConnectError.from(err);
      error.metadata.set("x-request-id", requestId);
      const level = error.code === Code.Internal || error.code === Code.Unknown ? "error" : error.code === Code.Unavailable ? "warn" : "info";
      const cause = describeCauses(error);
      access[level]({ ...line, status: Code[error.code], error: error.rawMessage, ...(cause && { cause }), durationMs: Math.round(performance.now() - started) }, "call");
      throw error;
    }
  };
}

/** Turns our errors (and anything unexpected) into the wire form; logs what was unexpected. */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      const mapped = toConnectError(err);
      if (mapped.code === Code.Internal && !(err instanceof ConnectError)) {
        logger.error({ err, method: req.method.name }, "unexpected error");
      }
      throw mapped;
    }
  };
}

/**
 * Resolves the bearer token to a principal before validation, as ZITADEL
 * does. The token is hashed once here; what comes later (the per-token rate
 * limit) finds the hash in the call's context.
 */
export function authInterceptor(authenticate: Authenticate): Interceptor {
  return (next) => async (req) => {
    const token = parseBearer(req.header.get("authorization"));
    let principal: Principal | undefined;
    if (token !== undefined) {
      const tokenHash = hashToken(token);
      principal = await authenticate(tokenHash);
      if (!principal) throw unauthenticated("AUTH-7fs1e", "Errors.Token.Invalid", "Token is not valid or has expired");
      req.contextValues.set(tokenHashKey, tokenHash);
    } else if (!allowsAnonymous(req.method)) {
      throw unauthenticated("AUTH-x7Bq3", "Errors.Token.Missing", "Authorization header with a bearer token is required");
    }
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}
