/**
 * The RPC services and the interceptors every call runs through, whichever
 * protocol carried it: the same for the one port, the REST gateway and an
 * in-process router transport.
 */
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { createValidateInterceptor } from "@connectrpc/validate";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { UserService } from "../../gen/zitadel/user/v2/user_service_pb.js";
import { UserService as UserServiceV2beta } from "../../gen/zitadel/user/v2beta/user_service_pb.js";
import { userService } from "../api/user_service.js";
import { userServiceV2beta } from "../api/user_service_v2beta.js";
import type { Logger } from "../logger.js";
import { metricsInterceptor } from "../metrics/interceptor.js";
import type { App } from "./app.js";
import { healthService } from "./health.js";
import { authInterceptor, errorInterceptor, loggingInterceptor } from "./interceptors.js";
import { anonymousLimitInterceptor, passwordResetLimitInterceptor, rateLimitHeadersInterceptor } from "./rate_limit_interceptors.js";
import { reflection } from "./reflection.js";

/** LATCHKEY_BENCH_NOOP=1 mounts latchkey.bench.v1.BenchService/Noop: the ceiling `npm run bench` measures against. */
const bench = process.env.LATCHKEY_BENCH_NOOP === "1" ? await import("../../gen/latchkey/bench/v1/bench_pb.js") : undefined;

export function rpcRoutes(app: App): (router: ConnectRouter) => void {
  return (router) => {
    router.service(UserService, userService(app.users, app.queries));
    router.service(UserServiceV2beta, userServiceV2beta(app.users, app.queries));
    if (bench) router.service(bench.BenchService, { noop: () => ({}) });
    router.service(Health, healthService(app.store, { services: [UserService.typeName, UserServiceV2beta.typeName] }));
    reflection(router);
  };
}

/** In the order they wrap a call: the outermost first. */
export function rpcInterceptors(app: App, logger: Logger, protocol?: "rest"): Interceptor[] {
  return [
    ...(app.metrics ? [metricsInterceptor(app.metrics, protocol)] : []),
    loggingInterceptor(logger, protocol),
    rateLimitHeadersInterceptor(),
    errorInterceptor(logger),
    authInterceptor(app.authenticate),
    ...(app.limits.anonymousPerIp ? [anonymousLimitInterceptor(app.limits.anonymousPerIp)] : []),
    createValidateInterceptor(),
    passwordResetLimitInterceptor(app.limits),
  ];
}
