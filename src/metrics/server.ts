/** The separate HTTP server that answers Prometheus on /metrics, and nothing else. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logger.js";
import type { Metrics } from "./metrics.js";

export const METRICS_PATH = "/metrics";

export interface MetricsServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(metrics: Pick<Metrics, "scrape">, options: { host: string; port: number; logger: Logger }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== METRICS_PATH) return answer(res, 404, "not found\n");
    if (req.method !== "GET" && req.method !== "HEAD") return answer(res, 405, "only GET\n", { allow: "GET, HEAD" });
    metrics.scrape().then(
      ({ body, contentType }) => answer(res, 200, req.method === "HEAD" ? "" : body, { "content-type": contentType }),
      (err: unknown) => {
        options.logger.error({ err }, "metrics: scrape failed");
        answer(res, 500, "scrape failed\n");
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}${METRICS_PATH}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function answer(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers, "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}
