import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Metrics, Protocol } from "./metrics.js";

/** The protocol of a call from its content type; Connect GET requests carry none. */
function protocolOf(contentType: string | null): Protocol {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/**
 * Counts and times every call that reaches a method, with the status it ends
 * in. Outermost, so that it sees the code the client gets. `protocol` names it
 * for routers that see no client's content type (the REST gateway's).
 */
export function metricsInterceptor(metrics: Metrics, protocol?: Protocol): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const series = metrics.rpc(req.method, protocol ?? protocolOf(req.header.get("content-type")));
    try {
      const res = await next(req);
      series.observe(0, started);
      return res;
    } catch (err) {
      series.observe(ConnectError.from(err).code, started);
      throw err;
    }
  };
}
