/**
 * The servers behind the one port: cleartext connections are sniffed for the
 * HTTP/2 preface and handed to the HTTP/1.1 or the HTTP/2 server; TLS ones are
 * told apart by ALPN.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { ConnectionLimits } from "../http/connection_limits.js";
import type { RequestHandler } from "../http/route.js";

/** A certificate chain and its private key, PEM. */
export interface TlsCredentials {
  cert: Buffer | string;
  key: Buffer | string;
}

/** How often Node checks HTTP/1.1 connections against headersTimeout and requestTimeout, at most. */
const MAX_CONNECTIONS_CHECK_INTERVAL_MS = 1_000;

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

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
export interface Http1Server {
  closeIdleConnections(): void;
}

export interface Servers {
  /** The server bound to the port. */
  outer: net.Server;
  http1: Http1Server;
  http2: http2.Http2Server | http2.Http2SecureServer;
  /** Connections still waiting for their first bytes. */
  sniffing: Set<net.Socket>;
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

export function createCleartextServers(handler: RequestHandler, limits: ConnectionLimits): Servers {
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

export function createTlsServers(handler: RequestHandler, tls: TlsCredentials, limits: ConnectionLimits): Servers {
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
