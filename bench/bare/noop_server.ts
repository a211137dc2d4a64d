/**
 * The stack's ceiling: `latchkey.bench.v1.BenchService/Noop` served by
 * @connectrpc/connect-node alone, a handler that returns a constant, no
 * interceptors, the library versions latchkey uses. gRPC over h2c on one
 * port, Connect JSON over HTTP/1.1 on another (Node's plaintext HTTP/2 server
 * takes no HTTP/1.1).
 *
 *   node --import tsx bench/bare/noop_server.ts <h2c port> <http/1.1 port>
 */
import http from "node:http";
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { BenchService } from "../../gen/latchkey/bench/v1/bench_pb.js";

const [h2Port, h1Port] = process.argv.slice(2).map(Number);
const handler = connectNodeAdapter({ routes: (router) => router.service(BenchService, { noop: () => ({}) }) });
const h2 = http2.createServer(handler);
const h1 = http.createServer(handler);
h2.listen(h2Port, "127.0.0.1", () =>
  h1.listen(h1Port, "127.0.0.1", () => process.stderr.write(`bare listening on http://127.0.0.1:${h2Port} and http://127.0.0.1:${h1Port};\n`)),
);
const stop = () => {
  h1.close();
  h2.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
