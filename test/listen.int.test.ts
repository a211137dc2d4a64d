import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as net from "node:net";
import { tmpdir } from "node:os";
import type * as tls from "node:tls";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import * as tlsModule from "node:tls";
import { listen, type Listener } from "../src/server/listen.js";
import { sniffProtocol } from "../src/server/servers.js";
import type { ConnectionLimits } from "../src/http/connection_limits.js";
import type { RequestHandler } from "../src/http/route.js";
import { FLAG, FRAME, frame, rawH2, rawSocket, requestHeaders, rstCodeOf, statusOf } from "./support/raw_http.js";

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SLOW_MS = 300;

/** Answers "<httpVersion> <path>", after SLOW_MS for /slow and never for /hang. */
function echoHandler(onRequest?: (path: string) => void): RequestHandler {
  return (req, res) => {
    const path = req.url ?? "";
    onRequest?.(path);
    const reply = () => (res as http.ServerResponse).end(`${req.httpVersion} ${path}`);
    if (path === "/slow") setTimeout(reply, SLOW_MS);
    else if (path !== "/hang") reply();
  };
}

const listeners: Listener[] = [];
async function start(handler: RequestHandler = echoHandler(), tls?: { cert: Buffer; key: Buffer }, limits?: Partial<ConnectionLimits>) {
  const listener = await listen(handler, { port: 0, host: "127.0.0.1", ...(tls && { tls }), ...(limits && { limits }) });
  listeners.push(listener);
  return listener;
}
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close(0)));
});

type Http1Options = https.RequestOptions & Pick<tls.ConnectionOptions, "ALPNProtocols">;

function http1Get(url: string, options: Http1Options = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith("https:") ? https : http;
    const req = client.get(url, { agent: false, ...options }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(body));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

function http2Get(session: http2.ClientHttp2Session, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("error", reject);
    stream.on("close", () => {
      if (stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) resolve(body);
      else reject(new Error(`stream reset with code ${stream.rstCode}`));
    });
  });
}

async function http2GetOnce(
  url: string,
  path: string,
  options: http2.SecureClientSessionOptions = {},
): Promise<string> {
  const session = http2.connect(url, options);
  try {
    return await http2Get(session, path);
  } finally {
    session.close();
  }
}

/** A connection to `port` that delivers the first write in two pieces, the first `splitAt` bytes long. */
function splitFirstWrite(port: number, splitAt: number): Duplex {
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  let first = true;
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (!first) return socket.write(chunk, callback);
      first = false;
      socket.write(chunk.subarray(0, splitAt));
      setTimeout(() => socket.write(chunk.subarray(splitAt), callback), 50);
    },
    read() {
      socket.resume();
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  socket.on("data", (data) => {
    if (!duplex.push(data)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("error", (err) => duplex.destroy(err));
  return duplex;
}

async function rawHttp1Exchange(port: number, pieces: string[]): Promise<string> {
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  await once(socket, "connect");
  for (const piece of pieces) {
    socket.write(piece);
    await sleep(50);
  }
  let response = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (response += chunk));
  await once(socket, "end");
  return response;
}

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

describe("sniffProtocol", () => {
  it("recognises the HTTP/2 preface, also once it is complete", () => {
    expect(sniffProtocol(Buffer.from(PREFACE))).toBe("h2");
    expect(sniffProtocol(Buffer.from(PREFACE + "\x00\x00\x12\x04"))).toBe("h2");
  });

  it("waits while the bytes are a prefix of the preface", () => {
    expect(sniffProtocol(Buffer.alloc(0))).toBeUndefined();
    expect(sniffProtocol(Buffer.from("P"))).toBeUndefined();
    expect(sniffProtocol(Buffer.from(PREFACE.slice(0, 23)))).toBeUndefined();
  });

  it("treats anything else as HTTP/1.1", () => {
    expect(sniffProtocol(Buffer.from("POST /x HTTP/1.1\r\n"))).toBe("http/1.1");
    expect(sniffProtocol(Buffer.from("PO"))).toBe("http/1.1");
    expect(sniffProtocol(Buffer.from("PRI * HTTP/2.1\r\n\r\nSM\r\n\r\n"))).toBe("http/1.1");
  });
});

describe("listen without TLS", () => {
  it("serves HTTP/1.1", async () => {
    const listener = await start();
    expect(listener.url).toBe(`http://127.0.0.1:${listener.port}`);
    const res = await fetch(`${listener.url}/hello?x=1`);
    expect(await res.text()).toBe("1.1 /hello?x=1");
    expect(await http1Get(`${listener.url}/again`)).toBe("1.1 /again");
  });

  it("serves HTTP/2 with prior knowledge", async () => {
    const listener = await start();
    expect(await http2GetOnce(listener.url, "/hello")).toBe("2.0 /hello");
  });

  it("serves HTTP/2 when the preface arrives in two pieces", async () => {
    const listener = await start();
    const body = await http2GetOnce(listener.url, "/split", {
      createConnection: () => splitFirstWrite(listener.port, 10),
    });
    expect(body).toBe("2.0 /split");
  });

  it("serves HTTP/1.1 whose first piece looks like the start of the preface", async () => {
    const listener = await start();
    const response = await rawHttp1Exchange(listener.port, [
      "P",
      "OST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ]);
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response).toMatch(/\r\n\r\n1\.1 \/split$/);
  });

  it("serves requests on a kept-alive HTTP/1.1 connection", async () => {
    const listener = await start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const path of ["/a", "/b", "/c"]) {
        expect(await http1Get(`${listener.url}${path}`, { agent })).toBe(`1.1 ${path}`);
      }
    } finally {
      agent.destroy();
    }
  });
});

describe("listen with TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-tls-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    { stdio: "ignore" },
  );
  const credentials = { cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) };
  rmSync(dir, { recursive: true, force: true });

  it("serves h2", async () => {
    const listener = await start(echoHandler(), credentials);
    expect(listener.url).toBe(`https://127.0.0.1:${listener.port}`);
    expect(await http2GetOnce(listener.url, "/hello", { rejectUnauthorized: false })).toBe("2.0 /hello");
  });

  it("serves HTTP/1.1", async () => {
    let alpn: string | false | null = null;
    const echo = echoHandler();
    const listener = await start((req, res) => {
      alpn = (req.socket as tls.TLSSocket).alpnProtocol;
      echo(req, res);
    }, credentials);
    const body = await http1Get(`${listener.url}/hello`, {
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    expect(body).toBe("1.1 /hello");
    expect(alpn).toBe("http/1.1");
  });

  it("closes a connection that never completes its TLS handshake", async () => {
    const listener = await start(echoHandler(), credentials, SHORT);
    const socket = net.connect(listener.port, "127.0.0.1");
    socket.on("error", () => {});
    await once(socket, "connect");
    await closedWithin(once(socket, "close"));
  });

  it("gives HTTP/1.1 over TLS its headers timeout", async () => {
    const listener = await start(echoHandler(), credentials, SHORT);
    const socket = tlsModule.connect({ port: listener.port, host: "127.0.0.1", rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    socket.on("error", () => {});
    await once(socket, "secureConnect");
    socket.write("GET /x HTTP/1.1\r\nHost: x\r\n");
    await closedWithin(once(socket, "close"));
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("closes an h2 connection without streams with GOAWAY", async () => {
    const listener = await start(echoHandler(), credentials, SHORT);
    const session = http2.connect(listener.url, { rejectUnauthorized: false });
    session.on("error", () => {});
    const goaway = once(session, "goaway");
    await closedWithin(once(session, "close"));
    await goaway;
  });

  it("closes while a request is in flight", async () => {
    let started!: () => void;
    const slowStarted = new Promise<void>((resolve) => (started = resolve));
    const listener = await start(echoHandler((path) => path === "/slow" && started()), credentials);
    const response = http1Get(`${listener.url}/slow`, { rejectUnauthorized: false });
    await slowStarted;
    await listener.close();
    await expect(response).resolves.toBe("1.1 /slow");
  });
});

/** Short limits, and how long a test waits at most for the server to act on them. */
const SHORT: Partial<ConnectionLimits> = { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300, http2IdleTimeoutMs: 300 };
const WITHIN_MS = 5_000;

async function closedWithin<T>(event: Promise<T>, ms = WITHIN_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([event, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe("limits without TLS", () => {
  it("HTTP/1.1 headers that never finish get 408, also when the first bytes took the sniffing path", async () => {
    const listener = await start(echoHandler(), undefined, SHORT);
    const socket = net.connect(listener.port, "127.0.0.1");
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    await once(socket, "connect");
    socket.write("P");
    await sleep(50);
    socket.write("OST /x HTTP/1.1\r\nHost: x\r\n");
    await closedWithin(once(socket, "close"));
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("a half-sent HTTP/1.1 request gets 408 on every one of 20 fresh listeners", async () => {
    for (let i = 0; i < 20; i++) {
      const listener = await start(echoHandler(), undefined, SHORT);
      const { socket, received, closed } = await rawSocket(listener.port);
      socket.write("POST /x HTTP/1.1\r\nHost: x\r\n");
      await closedWithin(closed);
      expect(received().toString("latin1"), `listener ${i}`).toMatch(/^HTTP\/1\.1 408 /);
      await listener.close(0);
    }
  });

  it("a client that trickles the HTTP/2 preface byte by byte is closed at the headers timeout, not at its end", async () => {
    const limits = { ...SHORT, headersTimeoutMs: 1_000 };
    const listener = await start(echoHandler(), undefined, limits);
    const { socket, closed } = await rawSocket(listener.port);
    // one byte per half timeout: the preface would take 12 s
    const preface = Buffer.from(PREFACE, "latin1");
    let sent = 0;
    const trickle = setInterval(() => sent < preface.length && socket.writable && socket.write(preface.subarray(sent, ++sent)), limits.headersTimeoutMs / 2);
    try {
      await closedWithin(closed, 4 * limits.headersTimeoutMs);
    } finally {
      clearInterval(trickle);
    }
    expect(sent).toBeLessThan(PREFACE.length);
  });

  it("an HTTP/2 answer that ends with its headers stops the upload even when the connection is backed up", async () => {
    const listener = await start(
      (req, res) => {
        const r = res as http2.Http2ServerResponse;
        if (req.url === "/big") return r.end(Buffer.alloc(24 * 1024 * 1024));
        // a headers-only answer (END_STREAM on the HEADERS frame) before the body arrived
        r.statusCode = 413;
        r.end();
      },
      undefined,
      { requestTimeoutMs: 5_000, http2MaxSessionMemoryMiB: 64 },
    );
    // windows wide open, so that the server fills the socket with /big while the client does not read
    const h2 = await rawH2(listener.port, [[4, 2 ** 31 - 1]]);
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(2 ** 31 - 1 - 65_535);
    h2.socket.write(frame(FRAME.WINDOW_UPDATE, 0, 0, increment));
    await h2.until(() => h2.frames.some((f) => f.type === FRAME.SETTINGS && f.flags & FLAG.ACK));
    h2.socket.pause();
    h2.socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, requestHeaders("GET", "/big")));
    await sleep(300);
    h2.socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS, 3, requestHeaders("POST", "/upload")));
    h2.socket.write(frame(FRAME.DATA, 0, 3, Buffer.alloc(1024)));
    await sleep(300);
    h2.socket.resume();
    await h2.until(() => h2.frames.some((f) => f.type === FRAME.RST_STREAM && f.streamId === 3));
    const answer = h2.frames.findIndex((f) => f.type === FRAME.HEADERS && f.streamId === 3);
    const reset = h2.frames.findIndex((f) => f.type === FRAME.RST_STREAM && f.streamId === 3);
    expect(statusOf(h2.frames[answer]!.payload)).toBe(413);
    expect(answer).toBeLessThan(reset);
    expect(rstCodeOf(h2.frames[reset]!)).toBe(http2.constants.NGHTTP2_NO_ERROR);
    h2.socket.destroy();
  });

  it("an HTTP/2 stream whose body never finishes is cancelled", async () => {
    const listener = await start((req) => req.resume(), undefined, SHORT);
    const session = http2.connect(listener.url);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/upload" });
      stream.on("error", () => {});
      stream.write("part of a body");
      await closedWithin(once(stream, "close"));
      expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
  });

  it("an HTTP/2 response sent before the request ended keeps its trailers and stops the upload", async () => {
    const echo = echoHandler();
    const listener = await start((req, res) => {
      if (req.url !== "/upload") return echo(req, res);
      const r = res as http2.Http2ServerResponse;
      r.writeHead(200);
      r.addTrailers({ "x-outcome": "refused" });
      r.end("too much");
    });
    const session = http2.connect(listener.url);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/upload" });
      let trailers: http2.IncomingHttpHeaders | undefined;
      stream.on("trailers", (t) => (trailers = t));
      stream.resume();
      stream.end(Buffer.alloc(1024 * 1024)); // beyond the flow-control window: only a reset lets the client stop
      await closedWithin(once(stream, "close"));
      expect(trailers?.["x-outcome"]).toBe("refused");
      expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(await http2Get(session, "/next")).toBe("2.0 /next");
    } finally {
      session.close();
    }
  });

  it("answers an HTTP/2 header list over maxHeaderBytes with 431 without calling the handler", async () => {
    const paths: string[] = [];
    const listener = await start(echoHandler((path) => paths.push(path)), undefined, { maxHeaderBytes: 4096 });
    const session = http2.connect(listener.url);
    try {
      const stream = session.request({ ":path": "/big", "x-big": "a".repeat(8192) });
      stream.on("error", () => {});
      const status = await Promise.race([
        once(stream, "response").then(([h]) => (h as http2.IncomingHttpHeaders)[":status"]),
        once(stream, "close").then(() => `reset ${stream.rstCode}`),
      ]);
      // 431 when the request beat the client's acknowledgement of the limit, else nghttp2's reset
      expect([431, `reset ${http2.constants.NGHTTP2_REFUSED_STREAM}`, `reset ${http2.constants.NGHTTP2_ENHANCE_YOUR_CALM}`]).toContain(status);
      expect(paths).toEqual([]);
    } finally {
      session.close();
    }
  });
});

describe("listen errors", () => {
  it("reports a port that is already in use", async () => {
    const listener = await start();
    await expect(listen(echoHandler(), { port: listener.port, host: "127.0.0.1" })).rejects.toThrow(
      new Error(`port ${listener.port} is already in use`),
    );
  });
});

describe("close", () => {
  async function startWithSlowRequest() {
    let started!: () => void;
    const slowStarted = new Promise<void>((resolve) => (started = resolve));
    const listener = await start(echoHandler((path) => path === "/slow" && started()));
    return { listener, slowStarted };
  }

  it("waits for an in-flight HTTP/1.1 request and refuses new connections meanwhile", async () => {
    const { listener, slowStarted } = await startWithSlowRequest();
    const response = http1Get(`${listener.url}/slow`);
    await slowStarted;

    const begun = performance.now();
    await Promise.all([
      listener.close(),
      expect(connectionRefused(listener.port)).resolves.toBe(true),
      expect(response).resolves.toBe("1.1 /slow"),
    ]);
    expect(performance.now() - begun).toBeGreaterThan(SLOW_MS / 2);
  });

  it("answers the in-flight request of a kept-alive HTTP/1.1 connection with Connection: close, then ends it", async () => {
    const { listener, slowStarted } = await startWithSlowRequest();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await http1Get(`${listener.url}/a`, { agent })).toBe("1.1 /a");
      const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get(`${listener.url}/slow`, { agent }, resolve).on("error", reject);
      });
      await slowStarted;
      const closed = listener.close();
      const res = await answered;
      expect(res.headers.connection).toBe("close");
      res.resume();
      await closedWithin(closed);
    } finally {
      agent.destroy();
    }
  });

  it("waits for an in-flight HTTP/2 stream and refuses new connections meanwhile", async () => {
    const { listener, slowStarted } = await startWithSlowRequest();
    const session = http2.connect(listener.url);
    const response = http2Get(session, "/slow");
    await slowStarted;

    const begun = performance.now();
    await Promise.all([
      listener.close(),
      expect(connectionRefused(listener.port)).resolves.toBe(true),
      expect(response).resolves.toBe("2.0 /slow"),
    ]);
    expect(performance.now() - begun).toBeGreaterThan(SLOW_MS / 2);
    session.destroy();
  });

  it("does not wait for idle connections", async () => {
    const listener = await start();
    const agent = new http.Agent({ keepAlive: true });
    const session = http2.connect(listener.url);
    try {
      expect(await http1Get(`${listener.url}/a`, { agent })).toBe("1.1 /a");
      expect(await http2Get(session, "/b")).toBe("2.0 /b");
      const idle = net.connect(listener.port, "127.0.0.1");
      await once(idle, "connect");

      const begun = performance.now();
      await listener.close();
      expect(performance.now() - begun).toBeLessThan(1_000);
    } finally {
      agent.destroy();
      session.destroy();
    }
  });

  it("destroys what is left after the grace period", async () => {
    const listener = await start();
    const request = http1Get(`${listener.url}/hang`).catch((err: Error) => err);
    const session = http2.connect(listener.url);
    const stream = http2Get(session, "/hang").catch((err: Error) => err);
    await sleep(100);

    const begun = performance.now();
    await listener.close(200);
    const elapsed = performance.now() - begun;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(2_000);
    expect(await request).toBeInstanceOf(Error);
    expect(await stream).toBeInstanceOf(Error);
    session.destroy();
  });
});
