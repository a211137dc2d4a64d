import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";

const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How often Node checks HTTP/1.1 connections against the two timeouts above. */
const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
const HTTP2_SESSION_IDLE_TIMEOUT_MS = 60_000;
/** A cleartext connection must identify its protocol within this time. */
const SNIFF_TIMEOUT_MS = HEADERS_TIMEOUT_MS;
const DEFAULT_CLOSE_GRACE_MS = 10_000;

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface ListenOptions {
  port: number;
  /** Defaults to all interfaces. */
  host?: string;
  tls?: { cert: Buffer | string; key: Buffer | string };
  maxHeaderSize?: number;
}

export interface Listener {
  readonly port: number;
  readonly url: string;
  /**
   * Stops accepting connections, lets in-flight requests finish and destroys
   * whatever is still open after `graceMs`.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Decides the protocol of a cleartext connection from its first bytes:
 * "h2" for the HTTP/2 connection preface, "http/1.1" for anything else, and
 * undefined while the bytes seen so far are still a prefix of the preface.
 */
export function sniffProtocol(head: Uint8Array): "h2" | "http/1.1" | undefined {
  const n = Math.min(head.length, HTTP2_PREFACE.length);
  if (!HTTP2_PREFACE.subarray(0, n).equals(head.subarray(0, n))) {
    return "http/1.1";
  }
  return n === HTTP2_PREFACE.length ? "h2" : undefined;
}

/** The HTTP/1.1 side of a server: `http.Server`, or `Http2SecureServer` with allowHTTP1. */
interface Http1Server {
  closeIdleConnections(): void;
}

interface Servers {
  /** The server bound to the port. */
  outer: net.Server;
  http1: Http1Server;
  http2: http2.Http2Server | http2.Http2SecureServer;
  /** Connections still waiting for their first bytes. */
  sniffing: Set<net.Socket>;
}

export async function listen(handler: RequestHandler, options: ListenOptions): Promise<Listener> {
  let closing = false;
  const http1Responses = new Set<http.ServerResponse>();
  const sessions = new Set<http2.Http2Session>();
  const sockets = new Set<net.Socket>();

  const onRequest: RequestHandler = (req, res) => {
    if (res instanceof http.ServerResponse) {
      http1Responses.add(res);
      if (closing) res.setHeader("Connection", "close");
      res.once("close", () => {
        http1Responses.delete(res);
        // The connection turned idle; during shutdown it has no further use.
        if (closing) servers.http1.closeIdleConnections();
      });
    }
    handler(req, res);
  };

  const servers = options.tls
    ? createTlsServers(onRequest, options.tls, options.maxHeaderSize)
    : createCleartextServers(onRequest, options.maxHeaderSize);
  const { outer } = servers;

  outer.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  servers.http2.on("session", (session: http2.Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
  });

  await bind(outer, options);
  const address = outer.address() as net.AddressInfo;
  if (servers.http1 instanceof http.Server) {
    // The inner HTTP/1.1 server never listens itself, but Node only enforces
    // headersTimeout/requestTimeout once a server has emitted 'listening'.
    servers.http1.emit("listening");
  }

  let closed: Promise<void> | undefined;
  const close = (graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      const deadline = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      outer.close(() => {
        clearTimeout(deadline);
        if (servers.http1 instanceof http.Server) servers.http1.close();
        resolve();
      });
      for (const socket of servers.sniffing) socket.destroy();
      for (const res of http1Responses) {
        if (!res.headersSent) res.setHeader("Connection", "close");
      }
      servers.http1.closeIdleConnections();
      // Sends GOAWAY and lets open streams finish.
      for (const session of sessions) session.close();
    });
    return closed;
  };

  const scheme = options.tls ? "https" : "http";
  return { port: address.port, url: `${scheme}://${urlHost(address)}:${address.port}`, close };
}

function createCleartextServers(handler: RequestHandler, maxHeaderSize: number | undefined): Servers {
  const http1 = http.createServer({
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
    ...(maxHeaderSize !== undefined && { maxHeaderSize }),
  });
  http1.on("request", handler);
  const h2 = http2.createServer({
    ...(maxHeaderSize !== undefined && { settings: { maxHeaderListSize: maxHeaderSize } }),
  });
  h2.on("request", handler);
  h2.setTimeout(HTTP2_SESSION_IDLE_TIMEOUT_MS);

  const sniffing = new Set<net.Socket>();
  const outer = net.createServer({ noDelay: true }, (socket) => {
    sniffing.add(socket);
    let head = Buffer.alloc(0);
    const abort = () => socket.destroy();
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
      const protocol = sniffProtocol(head);
      if (protocol === undefined) return;
      sniffing.delete(socket);
      socket.off("readable", onReadable);
      socket.off("error", abort);
      socket.off("end", abort);
      socket.setTimeout(0, abort);
      socket.unshift(head);
      (protocol === "h2" ? h2 : http1).emit("connection", socket);
    };
    socket.on("readable", onReadable);
    socket.on("error", abort);
    socket.on("end", abort);
    socket.once("close", () => sniffing.delete(socket));
    socket.setTimeout(SNIFF_TIMEOUT_MS, abort);
  });
  return { outer, http1, http2: h2, sniffing };
}

function createTlsServers(
  handler: RequestHandler,
  tls: NonNullable<ListenOptions["tls"]>,
  maxHeaderSize: number | undefined,
): Servers {
  const server = http2.createSecureServer({
    cert: tls.cert,
    key: tls.key,
    allowHTTP1: true,
    ALPNProtocols: ["h2", "http/1.1"],
    noDelay: true,
    ...(maxHeaderSize !== undefined && { settings: { maxHeaderListSize: maxHeaderSize } }),
  });
  server.on("request", handler);
  server.setTimeout(HTTP2_SESSION_IDLE_TIMEOUT_MS);
  // With allowHTTP1, Node serves HTTP/1.1 connections through the http module
  // and reads these settings from this server; @types/node does not declare them.
  Object.assign(server, {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
    ...(maxHeaderSize !== undefined && { maxHeaderSize }),
  });
  return {
    outer: server,
    http1: server as unknown as Http1Server,
    http2: server,
    sniffing: new Set(),
  };
}

function bind(server: net.Server, { port, host }: ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") {
        reject(new Error(`port ${port} is already in use`, { cause: err }));
      } else if (err.code === "EACCES") {
        reject(new Error(`permission denied to listen on port ${port}`, { cause: err }));
      } else {
        reject(new Error(`cannot listen on ${host ?? "*"}:${port}: ${err.message}`, { cause: err }));
      }
    };
    server.once("error", onError);
    server.listen({ port, host }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function urlHost({ address, family }: net.AddressInfo): string {
  if (address === "::" || address === "0.0.0.0") return "127.0.0.1";
  return family === "IPv6" ? `[${address}]` : address;
}
