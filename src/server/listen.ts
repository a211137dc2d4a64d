import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../http/connection_limits.js";
import type { RequestHandler } from "../http/route.js";

/** How often Node checks HTTP/1.1 connections against headersTimeout and requestTimeout, at most. */
const MAX_CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
const DEFAULT_CLOSE_GRACE_MS = 10_000;

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");


export interface ListenOptions {
  port: number;
  /** Defaults to all interfaces. */
  host?: string;
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** Defaults to DEFAULT_CONNECTION_LIMITS. */
  limits?: Partial<ConnectionLimits>;
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
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  // Node refuses a headers timeout longer than the request timeout.
  limits.headersTimeoutMs = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
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
    } else {
      guardStream(res.stream, limits.requestTimeoutMs);
      // nghttp2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the client has
      // acknowledged the setting, which a client need not ever do.
      if (headerListSize(req.rawHeaders) > limits.maxHeaderBytes) {
        res.writeHead(431);
        res.end();
        return;
      }
    }
    handler(req, res);
  };

  const servers = options.tls
    ? createTlsServers(onRequest, options.tls, limits)
    : createCleartextServers(onRequest, limits);
  const { outer } = servers;

  outer.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  servers.http2.on("session", (session: http2.Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
    else {
      closeWhenIdle(session, limits);
      keepAlive(session, limits);
    }
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

/**
 * What Node's HTTP/1.1 server does for each request, for an HTTP/2 stream: the
 * request must arrive completely within `requestTimeoutMs`, or the stream is
 * cancelled. And a response complete before its request asks the client to
 * stop sending (RST_STREAM NO_ERROR, RFC 9113 8.1, as grpc-go does) instead of
 * leaving the stream open for a body nobody reads: a client that has sent its
 * flow-control window waits for that reset to end its stream.
 */
function guardStream(stream: http2.ServerHttp2Stream, requestTimeoutMs: number): void {
  const remoteClosed = () => stream.state.remoteClose === 1;
  if (!remoteClosed()) {
    const timer = setTimeout(() => {
      if (!stream.destroyed && !remoteClosed()) stream.close(http2.constants.NGHTTP2_CANCEL);
    }, requestTimeoutMs);
    timer.unref();
    stream.once("end", () => clearTimeout(timer));
    stream.once("close", () => clearTimeout(timer));
  }
  // Once answered, the rest of the body is discarded, as Node's HTTP/1.1 server
  // does. Left unread in a paused stream it would keep the stream, and so its
  // session, open for good; the compat request (maybe destroyed by now) would
  // pause the stream again, so it stops getting the data.
  stream.once("finish", () => {
    if (stream.readableEnded) return;
    stream.removeAllListeners("data");
    stream.resume();
  });
  stream.once("finish", () => resetOnceAnswered(stream));
}

/** Looks of resetOnceAnswered() on the next turns before it waits between them. */
const ANSWER_SENT_QUICK_LOOKS = 8;
const ANSWER_SENT_LOOK_MS = 10;

/**
 * Resets the stream with NO_ERROR once the frame that ends its response
 * (HEADERS or DATA with END_STREAM, or trailers) has gone out, unless the
 * request has ended by then. Any earlier, nghttp2 would send the reset first
 * and the client would lose the end of the answer; Node tells of no such
 * frame, so the stream's state is looked at until it says so. The frame may
 * wait behind others on a connection whose peer reads slowly.
 */
function resetOnceAnswered(stream: http2.ServerHttp2Stream): void {
  let looks = 0;
  const look = () => {
    if (stream.destroyed || stream.closed) return;
    const { localClose, remoteClose } = stream.state;
    if (remoteClose === 1) return;
    if (localClose === 1) {
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
      return;
    }
    if (++looks < ANSWER_SENT_QUICK_LOOKS) setImmediate(look);
    else setTimeout(look, ANSWER_SENT_LOOK_MS).unref();
  };
  setImmediate(look);
}

/**
 * Closes an HTTP/2 session (GOAWAY) that goes without an open stream for too
 * long: `headersTimeoutMs` before its first stream, `http2IdleTimeoutMs` after
 * its last one. Idle time counts from stream activity, not from bytes on the
 * socket, so pings or headers that never complete do not keep a session alive.
 */
function closeWhenIdle(session: http2.Http2Session, limits: ConnectionLimits): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    timer = setTimeout(() => {
      session.close();
      // A peer that never acknowledges the GOAWAY does not hold the socket.
      setTimeout(() => open === 0 && session.destroy(), limits.headersTimeoutMs).unref();
    }, ms);
    timer.unref();
  };
  arm(limits.headersTimeoutMs);
  session.on("stream", (stream: http2.Http2Stream) => {
    open++;
    clearTimeout(timer);
    stream.once("close", () => {
      if (--open === 0 && !session.closed && !session.destroyed) arm(limits.http2IdleTimeoutMs);
    });
  });
  session.once("close", () => clearTimeout(timer));
}

/**
 * Sends a PING on an HTTP/2 connection that has sent nothing for
 * `http2KeepAliveIntervalMs`, and destroys it when the PING is not acknowledged
 * within `http2KeepAliveTimeoutMs`. A peer that vanished (a dropped NAT
 * mapping, a pulled cable, a frozen process) says nothing, and its open
 * streams, a health Watch among them, would be held for good. Silence is
 * told by the socket's byte count at each look, so a connection is pinged
 * after one to two intervals without a frame.
 */
function keepAlive(session: http2.Http2Session, limits: ConnectionLimits): void {
  const interval = limits.http2KeepAliveIntervalMs;
  if (interval === 0) return;
  const socket = session.socket;
  let seen = socket.bytesRead;
  let timer: NodeJS.Timeout | undefined;
  const lookAgain = () => {
    timer = setTimeout(look, interval);
    timer.unref();
  };
  const look = () => {
    if (session.destroyed || session.closed) return;
    if (socket.bytesRead !== seen) {
      seen = socket.bytesRead;
      return lookAgain();
    }
    const unanswered = setTimeout(() => session.destroy(), limits.http2KeepAliveTimeoutMs);
    unanswered.unref();
    session.ping((err) => {
      clearTimeout(unanswered);
      if (err) return; // the session is going away, or the PING was cancelled with it
      seen = socket.bytesRead;
      lookAgain();
    });
  };
  lookAgain();
  session.once("close", () => clearTimeout(timer));
}

/** The size of a header list as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 6.5.2). */
function headerListSize(rawHeaders: string[]): number {
  let size = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) size += rawHeaders[i]!.length + rawHeaders[i + 1]!.length + 32;
  return size;
}

function http1Options(limits: ConnectionLimits) {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(MAX_CONNECTIONS_CHECK_INTERVAL_MS, Math.ceil(limits.headersTimeoutMs / 4)),
    maxHeaderSize: limits.maxHeaderBytes,
  };
}

function http2Settings(limits: ConnectionLimits): http2.ServerOptions {
  return {
    maxSessionMemory: limits.http2MaxSessionMemoryMiB,
    settings: { maxConcurrentStreams: limits.http2MaxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes },
  };
}

/** What Node's HTTP/1.1 server answers when a request's headers took too long. */
const REQUEST_TIMEOUT_RESPONSE = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";

function createCleartextServers(handler: RequestHandler, limits: ConnectionLimits): Servers {
  const http1 = http.createServer(http1Options(limits));
  // Connections whose first request has yet to show its complete headers, and their deadlines.
  const awaitingHeaders = new Map<net.Socket, NodeJS.Timeout>();
  const headersComplete = (socket: net.Socket) => {
    clearTimeout(awaitingHeaders.get(socket));
    awaitingHeaders.delete(socket);
  };
  http1.on("request", (req: http.IncomingMessage) => headersComplete(req.socket));
  http1.on("request", handler);
  const h2 = http2.createServer(http2Settings(limits));
  h2.on("request", handler);

  const sniffing = new Set<net.Socket>();
  const outer = net.createServer({ noDelay: true }, (socket) => {
    sniffing.add(socket);
    // One deadline from the connection's start to its protocol and, on HTTP/1.1, to the
    // headers of its first request. A timeout that bytes reset would let a client that
    // trickles the HTTP/2 preface hold the connection for good, and Node's own headers
    // timer only starts once the socket is handed to its server.
    const deadline = setTimeout(() => {
      awaitingHeaders.delete(socket);
      if (!sniffing.has(socket) && socket.writable && socket.bytesWritten === 0) socket.write(REQUEST_TIMEOUT_RESPONSE);
      socket.destroy();
    }, limits.headersTimeoutMs);
    deadline.unref();
    awaitingHeaders.set(socket, deadline);
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
      socket.unshift(head);
      // an HTTP/2 session has its own deadline for its first stream (closeWhenIdle)
      if (protocol === "h2") headersComplete(socket);
      (protocol === "h2" ? h2 : http1).emit("connection", socket);
    };
    socket.on("readable", onReadable);
    socket.on("error", abort);
    socket.on("end", abort);
    socket.once("close", () => {
      sniffing.delete(socket);
      headersComplete(socket);
    });
  });
  return { outer, http1, http2: h2, sniffing };
}

function createTlsServers(handler: RequestHandler, tls: NonNullable<ListenOptions["tls"]>, limits: ConnectionLimits): Servers {
  const server = http2.createSecureServer({
    cert: tls.cert,
    key: tls.key,
    allowHTTP1: true,
    ALPNProtocols: ["h2", "http/1.1"],
    noDelay: true,
    handshakeTimeout: limits.headersTimeoutMs,
    ...http2Settings(limits),
  });
  server.on("request", handler);
  // With allowHTTP1, Node serves HTTP/1.1 connections through the http module
  // and reads these settings from this server; @types/node does not declare them.
  Object.assign(server, http1Options(limits));
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
