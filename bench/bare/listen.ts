/**
 * h2c and HTTP/1.1 on one port for the bare servers. Node's cleartext HTTP/2
 * server cannot fall back to HTTP/1.1 by itself, so each connection's first
 * bytes pick the server (the HTTP/2 preface starts with "PRI ").
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

type Handler = http.RequestListener & ((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);

const PREFACE = Buffer.from("PRI ");

/** Serves `handler` on 127.0.0.1:`port`, prints `<name> listening on <url>; pid <pid>`, stops on SIGTERM or SIGINT. */
export function listenBoth(handler: Handler, port: number, name: string, onStop: () => void = () => {}): void {
  const h1 = http.createServer(handler);
  const h2 = http2.createServer(handler);
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
    process.stderr.write(`${name} listening on http://127.0.0.1:${port}; pid ${process.pid}\n`);
  });
  const stop = () => {
    server.close();
    for (const s of [h1, h2]) s.close();
    onStop();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

export function portArgument(usage: string): number {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write(`usage: ${usage}\n`);
    process.exit(2);
  }
  return port;
}
