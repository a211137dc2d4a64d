/**
 * The floor under latchkey's no-op: `latchkey.bench.v1.BenchService/Noop`
 * served by connect-node alone, a handler answering a constant, no
 * interceptors, no REST gateway, no logging. h2c and HTTP/1.1 on one port:
 * Node's cleartext HTTP/2 server cannot fall back to HTTP/1.1 by itself, so
 * each connection's first bytes pick the server (the HTTP/2 preface starts
 * with "PRI ").
 *
 *   node --import tsx bench/bare/noop_server.ts <port>
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { BenchService, NoopResponseSchema } from "../../gen/latchkey/bench/v1/bench_pb.js";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: noop_server.ts <port>\n");
  process.exit(2);
}

const answer = create(NoopResponseSchema);
const handler = connectNodeAdapter({
  routes: (router: ConnectRouter) => router.service(BenchService, { noop: () => answer }),
});

const h1 = http.createServer(handler);
const h2 = http2.createServer(handler);
const PREFACE = Buffer.from("PRI ");

const server = net.createServer({ noDelay: true }, (socket) => {
  let head = Buffer.alloc(0);
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
    if (head.length < PREFACE.length) return;
    socket.off("readable", onReadable);
    socket.unshift(head);
    (head.subarray(0, PREFACE.length).equals(PREFACE) ? h2 : h1).emit("connection", socket);
  };
  socket.on("readable", onReadable);
  socket.on("error", () => socket.destroy());
});

server.listen(port, "127.0.0.1", () => {
  process.stderr.write(`bare connect-node listening on http://127.0.0.1:${port}; pid ${process.pid}\n`);
});

const stop = () => {
  server.close();
  for (const s of [h1, h2]) s.close();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
