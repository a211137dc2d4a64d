import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../http/connection_limits.js";
import type { RequestHandler } from "../http/route.js";
import { closeWhenIdle, guardStream, headerListSize, keepAlive } from "./http2_streams.js";
import { createCleartextServers, createTlsServers, type TlsCredentials } from "./servers.js";

const DEFAULT_CLOSE_GRACE_MS = 10_000;

/** Where and how to serve; read by listen() and the servers it builds. */
export interface ListenOptions {
  port: number;
  /** Defaults to all interfaces. */
  host?: string;
  tls?: TlsCredentials;
  /** Defaults to DEFAULT_CONNECTION_LIMITS. */
  limits?: Partial<ConnectionLimits>;
  /** share the port with other listeners that ask for it too (SO_REUSEPORT): the kernel spreads connections over them */
  reusePort?: boolean;
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

export async function listen(handler: RequestHandler, options: ListenOptions): Promise<Listener> {
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  // Node refuses a headers timeout longer than the request timeout.
  limits.headersTimeoutMs = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  let closing = false;
  // The response each HTTP/1.1 connection is answering, by socket, for shutdown. Keyed by
  // the long-lived socket and overwritten per request: a collection that gained and lost
  // an entry on every request would make V8 rehash it again and again, and each table it
  // left behind in the old generation kept the responses it held alive through the next
  // scavenges, promoting their whole request graph (measured: 5.9 against 3.1 KB a call).
  const answering = new Map<net.Socket, http.ServerResponse | undefined>();
  const sessions = new Set<http2.Http2Session>();
  const sockets = new Set<net.Socket>();

  const onRequest: RequestHandler = (req, res) => {
    if (res instanceof http.ServerResponse) {
      const socket = req.socket;
      if (!answering.has(socket)) socket.once("close", () => answering.delete(socket));
      answering.set(socket, res);
      if (closing) res.setHeader("Connection", "close");
      res.once("close", () => {
        if (answering.get(socket) === res) answering.set(socket, undefined);
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
      for (const res of answering.values()) {
        if (res && !res.headersSent) res.setHeader("Connection", "close");
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

function bind(server: net.Server, { port, host, reusePort }: ListenOptions): Promise<void> {
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
    server.listen({ port, host, ...(reusePort && { reusePort }) }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function urlHost({ address, family }: net.AddressInfo): string {
  if (address === "::" || address === "0.0.0.0") return "127.0.0.1";
  return family === "IPv6" ? `[${address}]` : address;
}
