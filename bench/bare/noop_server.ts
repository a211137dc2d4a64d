/**
 * The floor under latchkey's no-op: `latchkey.bench.v1.BenchService/Noop`
 * served by connect-node alone, a handler answering a constant, no
 * interceptors, no REST gateway, no logging; h2c and HTTP/1.1 on one port,
 * from one thread or from `threads` threads sharing it (see listen.ts).
 *
 *   node --import tsx bench/bare/noop_server.ts <port> [threads]
 */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { BenchService, NoopResponseSchema } from "../../gen/latchkey/bench/v1/bench_pb.js";
import { listenBoth, servingArguments } from "./listen.js";

const serving = servingArguments("noop_server.ts <port> [threads]");
const answer = create(NoopResponseSchema);
const handler = connectNodeAdapter({
  routes: (router: ConnectRouter) => router.service(BenchService, { noop: () => answer }),
});
await listenBoth(handler, serving, "bare connect-node", { script: import.meta.url });
