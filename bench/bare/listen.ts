/**
 * h2c and HTTP/1.1 on one port for the bare servers, from one thread or from
 * several. Node's cleartext HTTP/2 server cannot fall back to HTTP/1.1 by
 * itself, so each connection's first bytes pick the server (the HTTP/2
 * preface starts with "PRI "). With more than one thread each listens with
 * SO_REUSEPORT and the kernel spreads the connections over them, as it does
 * over `latchkey start --workers N`'s threads.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Worker, isMainThread, parentPort, workerData, type TransferListItem } from "node:worker_threads";

type Handler = http.RequestListener & ((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);

/** Where a bare server serves, and which of its serving threads this is (0: the main thread). */
export interface Serving {
  port: number;
  threads: number;
  index: number;
  /** what the main thread gave this thread (see ServeOptions.threadData) */
  data?: unknown;
}

export interface ServeOptions {
  /** the script's `import.meta.url`: the other serving threads run it too */
  script: string;
  /** main thread only: stops what else the server runs */
  onStop?: () => void;
  /** main thread only: what serving thread `index` (≥ 1) gets, and what is transferred to it */
  threadData?: (index: number) => { data: unknown; transfer: TransferListItem[] };
}

const PREFACE = Buffer.from("PRI ");

/** `<script> <port> [threads]` in the main thread; what it was given in the others. */
export function servingArguments(usage: string): Serving {
  if (!isMainThread) return workerData as Serving;
  const port = Number(process.argv[2]);
  const threads = Number(process.argv[3] ?? "1");
  if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(threads) || threads < 1) {
    process.stderr.write(`usage: ${usage}\n`);
    process.exit(2);
  }
  return { port, threads, index: 0 };
}

/**
 * Serves `handler` on 127.0.0.1 from this thread. The main thread first starts
 * the other serving threads, and once every thread listens prints `<name>
 * listening on <url>; pid <pid>`; it stops them all on SIGTERM or SIGINT.
 */
export async function listenBoth(handler: Handler, serving: Serving, name: string, options: ServeOptions): Promise<void> {
  const others = isMainThread ? startThreads(serving, options) : [];
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
  await new Promise<void>((resolve) => server.listen({ port: serving.port, host: "127.0.0.1", reusePort: serving.threads > 1 }, resolve));
  if (!isMainThread) {
    parentPort!.postMessage("listening");
    return;
  }
  await Promise.all(others);
  process.stderr.write(`${name} listening on http://127.0.0.1:${serving.port}; pid ${process.pid}\n`);
  const stop = () => {
    server.close();
    for (const s of [h1, h2]) s.close();
    options.onStop?.();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

/** Starts serving threads 1 to threads - 1; each promise resolves when its thread listens. */
function startThreads(serving: Serving, options: ServeOptions): Promise<void>[] {
  return Array.from({ length: serving.threads - 1 }, (_, i) => {
    const index = i + 1;
    const extra = options.threadData?.(index);
    const worker = new Worker(new URL(options.script), {
      workerData: { ...serving, index, data: extra?.data } satisfies Serving,
      transferList: extra?.transfer ?? [],
      execArgv: process.execArgv,
    });
    return new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`serving thread ${index} exited with ${code}`)));
    });
  });
}
