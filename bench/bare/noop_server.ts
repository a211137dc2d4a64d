/**
 * The floor under latchkey's no-op: `latchkey.bench.v1.BenchService/Noop`
 * served by connect-node alone, a handler answering a constant, no
 * interceptors, no REST gateway, no logging; h2c and HTTP/1.1 on one port.
 *
 *   node --import tsx bench/bare/noop_server.ts <port>
 */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { BenchService, NoopResponseSchema } from "../../gen/latchkey/bench/v1/bench_pb.js";
import { listenBoth, portArgument } from "./listen.js";

const port = portArgument("noop_server.ts <port>");
const answer = create(NoopResponseSchema);
const handler = connectNodeAdapter({
  routes: (router: ConnectRouter) => router.service(BenchService, { noop: () => answer }),
});
listenBoth(handler, port, "bare connect-node");
