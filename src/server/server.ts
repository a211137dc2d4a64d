/** Builds the server: one port, every protocol. Only the CLI decides to run it. */
import fs from "node:fs";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createValidateInterceptor } from "@connectrpc/validate";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { UserService } from "../../gen/zitadel/user/v2/user_service_pb.js";
import { userService } from "../api/user_service.js";
import { changePasswordRoute } from "../auth0/change_password.js";
import type { Config } from "../config.js";
import { resetPage } from "../ui/reset_page.js";
import type { Logger } from "../logger.js";
import { passwordResetLimitInterceptor, rateLimitHeadersInterceptor } from "../ratelimit/interceptors.js";
import { addressMatcher, clientIp } from "../ratelimit/rules.js";
import { openApp, type App, type AppOptions } from "./app.js";
import { corsHandler } from "./cors.js";
import { restGateway } from "./gateway/gateway.js";
import { healthRoutes, healthService } from "./health.js";
import { authInterceptor, errorInterceptor, loggingInterceptor } from "./interceptors.js";
import { listen, type RequestHandler } from "./listen.js";
import { openApiRoute } from "./openapi.js";
import { reflection } from "./reflection.js";

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly app: App;
  close(): Promise<void>;
}

/** A plain HTTP endpoint; returns true when it answered the request. */
export type HttpRoute = (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => boolean;

/** LATCHKEY_BENCH_NOOP=1 mounts latchkey.bench.v1.BenchService/Noop: the ceiling `npm run bench` measures against. */
const bench = process.env.LATCHKEY_BENCH_NOOP === "1" ? await import("../../gen/latchkey/bench/v1/bench_pb.js") : undefined;

export function createHandler(app: App, config: Config, logger: Logger): RequestHandler {
  const routes = (router: ConnectRouter) => {
    router.service(UserService, userService(app.users));
    if (bench) router.service(bench.BenchService, { noop: () => ({}) });
    router.service(Health, healthService(app.store, { services: [UserService.typeName] }));
    reflection(router);
  };
  const interceptors = (protocol?: string) => [
    loggingInterceptor(logger, protocol),
    rateLimitHeadersInterceptor(),
    errorInterceptor(logger),
    authInterceptor(app.authenticate),
    createValidateInterceptor(),
    passwordResetLimitInterceptor(app.limits),
  ];
  const gateway = restGateway({ routes, interceptors: interceptors("rest"), maxBodyBytes: config.maxBodyBytes });
  const rpc = connectNodeAdapter({ routes, interceptors: interceptors(), readMaxBytes: config.maxBodyBytes, fallback: gateway.notFound });
  const cors = corsHandler(config.corsOrigins);
  const isTrustedProxy = addressMatcher(config.trustedProxies);
  const changePassword = changePasswordRoute({
    store: app.store,
    users: app.users,
    ...(app.limits.changePassword && { limit: app.limits.changePassword }),
    clientIp: (req) => clientIp(req.socket.remoteAddress ?? "", String(req.headers["x-forwarded-for"] ?? ""), isTrustedProxy),
    maxBodyBytes: config.maxBodyBytes,
    logger,
    runInBackground: app.runInBackground,
  });
  // tried in order before the RPC protocols
  const httpRoutes: HttpRoute[] = [
    resetPage({ policyForUser: app.users.passwordPolicyForUser, logger }),
    ...healthRoutes(app.store, app.database),
    openApiRoute(gateway.services),
    gateway.route,
  ];
  return (req, res) => {
    // before the general CORS handler: it answers its own preflight requests, for its applications' origins
    if (changePassword(req, res)) return;
    if (cors(req, res)) return;
    for (const route of httpRoutes) if (route(req, res)) return;
    rpc(req, res);
  };
}

export async function startServer(config: Config, logger: Logger, options: AppOptions = {}): Promise<RunningServer> {
  const app = await openApp(config, logger, options);
  try {
    const listener = await listen(createHandler(app, config, logger), {
      port: config.port,
      host: config.host,
      ...(config.tls && { tls: { cert: fs.readFileSync(config.tls.certFile), key: fs.readFileSync(config.tls.keyFile) } }),
    });
    logger.info({ url: listener.url, adminTokenFile: app.adminTokenFile }, "latchkey listening");
    return {
      url: listener.url,
      port: listener.port,
      app,
      async close() {
        await listener.close();
        await app.close();
      },
    };
  } catch (err) {
    await app.close();
    throw err;
  }
}
