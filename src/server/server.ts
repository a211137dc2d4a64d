/** Builds the server: one port, every protocol. Only the CLI decides to run it. */
import fs from "node:fs";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { originKey } from "../api/context.js";
import { requestOrigin } from "../http/origin.js";
import { CHANGE_PASSWORD_PATH, changePasswordRoute } from "../auth0/change_password.js";
import type { Config } from "../config.js";
import { resetPage } from "../ui/reset_page.js";
import type { Logger } from "../logger.js";
import { measuredRoute } from "../metrics/http.js";
import { Metrics } from "../metrics/metrics.js";
import { startMetricsServer, type MetricsServer } from "../metrics/server.js";
import { addressMatcher } from "../http/client_address.js";
import { openApp, type App, type AppOptions } from "./app.js";
import { corsHandler } from "./cors.js";
import { restGateway } from "./gateway/gateway.js";
import { healthRoutes } from "./health.js";
import { rpcInterceptors, rpcRoutes } from "./rpc.js";
import { listen } from "./listen.js";
import type { HttpRequest, HttpRoute, RequestHandler } from "../http/route.js";
import { relabelCallerFault } from "./malformed_request.js";
import { openApiRoute } from "./openapi.js";
import { refusals } from "./refusals.js";

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly app: App;
  /** where Prometheus scrapes, with --metrics-port */
  readonly metricsUrl?: string;
  close(): Promise<void>;
}

export function createHandler(app: App, config: Config, logger: Logger): RequestHandler {
  const routes = rpcRoutes(app);
  // requests refused before a method reach none of the interceptors: logged and counted apart
  const refused = refusals({ logger, isRestPath: (path) => gateway.handles(path), ...(app.metrics && { count: app.metrics.refused }) });
  const interceptors = (protocol?: "rest") => [refused.interceptor, ...rpcInterceptors(app, logger, protocol)];
  // who asked is the token's; from where is the client's address, the same for every entry point
  const isTrustedProxy = addressMatcher(config.trustedProxies);
  const originOf = (req: HttpRequest) => requestOrigin(req, isTrustedProxy);
  const contextValues = (req: HttpRequest) => refused.values(req, createContextValues().set(originKey, originOf(req)));
  const gateway = restGateway({ routes, interceptors: interceptors("rest"), maxBodyBytes: config.maxBodyBytes, contextValues });
  const rpc = connectNodeAdapter({
    routes,
    interceptors: interceptors(),
    readMaxBytes: config.maxBodyBytes,
    // runs before the body is read; the call's signal aborts with the error a call ends in, before it is written out
    requestGate: (context) => {
      const { signal } = context;
      const ended = () => {
        relabelCallerFault(signal.reason);
        refused.ended(context, signal.reason);
      };
      signal.addEventListener("abort", ended, { once: true });
    },
    fallback: gateway.notFound,
    contextValues,
  });
  const cors = corsHandler(config.corsOrigins, gateway.methods);
  const changePassword = changePasswordRoute({
    store: app.store,
    users: app.users,
    limits: {
      ...(app.limits.changePassword && { perEmail: app.limits.changePassword }),
      ...(app.limits.changePasswordPerIp && { perAddress: app.limits.changePasswordPerIp }),
      ...(app.limits.resetPerUser && { perUser: app.limits.resetPerUser }),
    },
    requestOrigin: originOf,
    maxBodyBytes: config.maxBodyBytes,
    logger,
    runInBackground: app.runInBackground,
  });
  const auth0 = measuredRoute(changePassword, app.metrics?.http(CHANGE_PASSWORD_PATH, "auth0"));
  // tried in order before the RPC protocols
  const httpRoutes: HttpRoute[] = [
    resetPage({ checkLink: app.users.checkResetLink, originOf, logger }),
    ...healthRoutes(app.store, app.database),
    openApiRoute(gateway.services),
    gateway.route,
  ];
  return (req, res) => {
    // Answers carry codes, tokens and user data, errors echo requests: no cache keeps them.
    // A route may say otherwise for what holds no secret (the reset page's script and style).
    res.setHeader("cache-control", "no-store");
    // before the general CORS handler: it answers its own preflight requests, for its applications' origins
    if (auth0(req, res)) return;
    refused.observe(req, res, () => {
      if (cors(req, res)) return;
      for (const route of httpRoutes) if (route(req, res)) return;
      rpc(req, res);
    });
  };
}

export interface ServerOptions extends AppOptions {
  /** false: count metrics but serve no /metrics; the main thread gathers them (see threads.ts) */
  serveMetrics?: boolean;
  /** share the port with the other serving threads (see threads.ts) */
  reusePort?: boolean;
}

export async function startServer(config: Config, logger: Logger, options: ServerOptions = {}): Promise<RunningServer> {
  // no port, no metrics: nothing is counted when nobody can read it
  const metrics = config.metricsPort === undefined ? undefined : new Metrics({ processMetrics: options.serveMetrics !== false });
  const app = await openApp(config, logger, { ...options, ...(metrics && { metrics }) });
  let metricsServer: MetricsServer | undefined;
  try {
    if (metrics && options.serveMetrics !== false) metricsServer = await startMetricsServer(metrics, { host: config.metricsHost, port: config.metricsPort!, logger });
    const listener = await listen(createHandler(app, config, logger), {
      port: config.port,
      host: config.host,
      limits: config.connectionLimits,
      ...(options.reusePort && { reusePort: true }),
      ...(config.tls && { tls: { cert: fs.readFileSync(config.tls.certFile), key: fs.readFileSync(config.tls.keyFile) } }),
    });
    logger.info({ url: listener.url, adminTokenFile: app.adminTokenFile, ...(metricsServer && { metricsUrl: metricsServer.url }) }, "latchkey listening");
    return {
      url: listener.url,
      port: listener.port,
      app,
      ...(metricsServer && { metricsUrl: metricsServer.url }),
      async close() {
        await listener.close();
        await metricsServer?.close();
        await app.close();
      },
    };
  } catch (err) {
    await metricsServer?.close();
    await app.close();
    throw err;
  }
}
