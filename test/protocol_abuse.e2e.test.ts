/**
 * Protocol abuse over the wire: broken gRPC frames, oversized and undecodable
 * messages, wrong content types, stream floods, huge headers and slow or idle
 * connections. Each gets a clean 4xx or a gRPC status that does not blame the
 * server, and afterwards the server still answers on a fresh connection.
 */
import { once } from "node:events";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { gzipSync } from "node:zlib";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserService } from "../gen/zitadel/user/v2/user_service_pb.js";
import {
  closesWithin,
  FLAG,
  FRAME,
  frame,
  getHeaders,
  PREFACE,
  rawH2 as rawH2To,
  requestHeaders,
  rawSocket as rawSocketTo,
  rstCodeOf,
  statusOf,
} from "./support/raw_http.js";
import { startTestServer, type TestServer } from "./support/server.js";

const MAX_BODY = 16 * 1024;
const LIMITS = {
  headersTimeoutMs: 500,
  requestTimeoutMs: 1_000,
  keepAliveTimeoutMs: 500,
  http2IdleTimeoutMs: 500,
  http2MaxConcurrentStreams: 100,
  http2MaxSessionMemoryMiB: 10,
  maxHeaderBytes: 16 * 1024,
  http2KeepAliveIntervalMs: 400,
  http2KeepAliveTimeoutMs: 400,
};

const PASSWORD_RESET = "/zitadel.user.v2.UserService/PasswordReset";
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";
const HEALTH_WATCH = "/grpc.health.v1.Health/Watch";
const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = http2.constants;

let server: TestServer;
let userId: string;
let rssBefore: number;

beforeAll(async () => {
  server = await startTestServer({ config: { maxBodyBytes: MAX_BODY, connectionLimits: LIMITS } });
  const users = createClient(UserService, createGrpcTransport({ baseUrl: server.url }));
  const added = await users.addHumanUser(
    { profile: { givenName: "Mallory", familyName: "Abuser" }, email: { email: "mallory@example.com" } },
    { headers: auth() },
  );
  userId = added.userId;
  rssBefore = process.memoryUsage().rss;
});

afterAll(async () => {
  await server?.close();
});

function auth(): Record<string, string> {
  return { authorization: `Bearer ${server.adminToken}` };
}

/** A PasswordReset over gRPC and GET /healthz over HTTP/1.1, each on a connection of its own. */
async function expectHealthy(): Promise<void> {
  const users = createClient(UserService, createGrpcTransport({ baseUrl: server.url }));
  const res = await users.passwordReset({ userId, medium: { case: "returnCode", value: {} } }, { headers: auth() });
  expect(res.verificationCode).toMatch(/^[A-Z0-9]{6}$/);
  expect((await http1("/healthz", { method: "GET" })).status).toBe(200);
}

// ---------------------------------------------------------------- clients

/** A gRPC length-prefixed message whose prefix may claim another length than it carries. */
function grpcFrame(payload: Uint8Array, { compressed = false, declared = payload.length } = {}): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(declared, 1);
  return Buffer.concat([head, payload]);
}

interface H2Answer {
  status?: number;
  headers: http2.IncomingHttpHeaders;
  grpcStatus?: number;
  grpcMessage?: string;
  body: Buffer;
  rstCode: number;
}

/** One POST on `session`, by default a fresh HTTP/2 connection; resolves once the stream is closed, however. */
async function h2Post(
  path: string,
  body: Buffer | ((stream: http2.ClientHttp2Stream) => void),
  headers: http2.OutgoingHttpHeaders = {},
  session?: http2.ClientHttp2Session,
): Promise<H2Answer> {
  const own = !session;
  session ??= http2.connect(server.url);
  session.on("error", () => {});
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...auth(),
      ...headers,
    });
    const answer: H2Answer = { headers: {}, body: Buffer.alloc(0), rstCode: NGHTTP2_NO_ERROR };
    const chunks: Buffer[] = [];
    const grpcStatus = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) answer.grpcStatus = Number(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) answer.grpcMessage = decodeURIComponent(String(h["grpc-message"]));
    };
    stream.on("response", (h) => {
      answer.status = Number(h[":status"]);
      answer.headers = h;
      grpcStatus(h);
    });
    stream.on("trailers", grpcStatus);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    if (typeof body === "function") body(stream);
    else stream.end(body);
    await once(stream, "close");
    answer.body = Buffer.concat(chunks);
    answer.rstCode = stream.rstCode ?? NGHTTP2_NO_ERROR;
    return answer;
  } finally {
    if (own) session.close();
  }
}

interface H1Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh HTTP/1.1 connection (no keep-alive pool to race the server's keep-alive timeout). */
function http1(
  path: string,
  { method = "POST", headers = {}, body }: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer | ((req: http.ClientRequest) => void) },
): Promise<H1Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, { method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (typeof body === "function") body(req);
    else req.end(body);
  });
}

const rawSocket = () => rawSocketTo(server.port);
const rawH2 = () => rawH2To(server.port);

// ---------------------------------------------------------------- tests

describe("malformed gRPC messages", () => {
  const checkRequest = Buffer.from([0x0a, 0x00]); // HealthCheckRequest{service: ""}

  it("a length prefix longer than the message is InvalidArgument", async () => {
    const answer = await h2Post(HEALTH_CHECK, grpcFrame(checkRequest, { declared: 100 }));
    expect(answer.status).toBe(200);
    expect(answer.grpcStatus).toBe(3);
    expect(answer.grpcMessage).toMatch(/incomplete envelope/);
    await expectHealthy();
  });

  it("a length prefix shorter than the message is InvalidArgument", async () => {
    const request = Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]); // service: "abc"
    const answer = await h2Post(HEALTH_CHECK, grpcFrame(request, { declared: 2 }));
    expect(answer.status).toBe(200);
    expect(answer.grpcStatus).toBe(3);
    await expectHealthy();
  });

  it("the compressed flag without a grpc-encoding is InvalidArgument", async () => {
    const answer = await h2Post(HEALTH_CHECK, grpcFrame(checkRequest, { compressed: true }));
    expect(answer.grpcStatus).toBe(3);
    expect(answer.grpcMessage).toMatch(/compressed/);
    await expectHealthy();
  });

  it("an unknown grpc-encoding is Unimplemented and names the supported ones", async () => {
    const answer = await h2Post(HEALTH_CHECK, grpcFrame(checkRequest, { compressed: true }), { "grpc-encoding": "snappy" });
    expect(answer.grpcStatus).toBe(12);
    expect(answer.grpcMessage).toMatch(/supported encodings are .*gzip/);
    await expectHealthy();
  });

  it("gzip that does not inflate is not the server's fault", async () => {
    const answer = await h2Post(HEALTH_CHECK, grpcFrame(Buffer.from("not gzip at all"), { compressed: true }), { "grpc-encoding": "gzip" });
    expect(answer.grpcStatus).toBeDefined();
    expect([0, 2, 13]).not.toContain(answer.grpcStatus);
    await expectHealthy();
  });

  it("gzip that inflates past the body limit is ResourceExhausted", async () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(MAX_BODY);
    const answer = await h2Post(PASSWORD_RESET, grpcFrame(bomb, { compressed: true }), { "grpc-encoding": "gzip" });
    expect(answer.grpcStatus).toBe(8);
    await expectHealthy();
  });

  it("protobuf that does not decode is InvalidArgument, over gRPC, gRPC-web and Connect", async () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const grpc = await h2Post(PASSWORD_RESET, grpcFrame(garbage));
    expect(grpc.grpcStatus).toBe(3);
    expect(grpc.grpcMessage).toMatch(/^parse binary/);

    const grpcWeb = await http1(PASSWORD_RESET, { headers: { "content-type": "application/grpc-web+proto", ...auth() }, body: grpcFrame(garbage) });
    expect(grpcWeb.status).toBe(200);
    expect(grpcWeb.headers["grpc-status"] ?? grpcWeb.body).toMatch(/grpc-status:\s*3\b|^3$/);

    const connect = await http1(PASSWORD_RESET, { headers: { "content-type": "application/proto", ...auth() }, body: garbage });
    expect(connect.status).toBe(400);
    expect(JSON.parse(connect.body)).toMatchObject({ code: "invalid_argument" });
    await expectHealthy();
  });

  it("a declared message over the body limit is ResourceExhausted without being sent", async () => {
    const answer = await h2Post(PASSWORD_RESET, grpcFrame(Buffer.alloc(16), { declared: 1 << 30 }));
    expect(answer.grpcStatus).toBe(8);
    expect(answer.grpcMessage).toMatch(/larger than configured readMaxBytes/);
    await expectHealthy();
  });

  it("a message streamed past the body limit is ResourceExhausted and the upload is stopped", async () => {
    // larger than the stream's flow-control window: unless the server resets the
    // stream after answering, the client waits forever to send the rest
    const big = grpcFrame(Buffer.alloc(512 * 1024, 0x0a));
    const session = http2.connect(server.url);
    const answer = await h2Post(PASSWORD_RESET, big, {}, session);
    expect(answer.grpcStatus).toBe(8);
    expect(answer.rstCode).toBe(NGHTTP2_NO_ERROR);
    // nothing of the stream lingers on the server: its connection goes idle and is closed
    await closesWithin(once(session, "close"), "the connection after the refused upload");
    await expectHealthy();
  });

  it("a 5 MB message from node:http2 is ResourceExhausted, its stream ends with NO_ERROR, and most of it is never sent", async () => {
    const session = http2.connect(server.url);
    try {
      const answer = await h2Post(PASSWORD_RESET, grpcFrame(Buffer.alloc(5 * 1024 * 1024, 0x0a)), {}, session);
      expect(answer.grpcStatus).toBe(8);
      expect(answer.rstCode).toBe(NGHTTP2_NO_ERROR);
      expect(session.socket.bytesWritten).toBeLessThan(1024 * 1024);
    } finally {
      session.close();
    }
    await expectHealthy();
  });

  it("a message split over many DATA frames past the body limit is ResourceExhausted", async () => {
    const session = http2.connect(server.url);
    const answer = await h2Post(
      PASSWORD_RESET,
      (stream) => {
        stream.write(grpcFrame(Buffer.alloc(0), { declared: MAX_BODY * 4 }).subarray(0, 5));
        const chunk = Buffer.alloc(1024, 0x0a);
        const pump = () => {
          while (!stream.destroyed && !stream.closed && stream.write(chunk));
        };
        stream.on("drain", pump);
        pump();
      },
      {},
      session,
    );
    expect(answer.grpcStatus).toBe(8);
    await closesWithin(once(session, "close"), "the connection after the refused upload");
    await expectHealthy();
  });
});

describe("bodies over the limit on Connect and REST", () => {
  it("Connect: a declared Content-Length over the limit is 429 resource_exhausted", async () => {
    const answer = await http1(HEALTH_CHECK, { headers: { "content-type": "application/json" }, body: `{"service":"${"x".repeat(MAX_BODY)}"}` });
    expect(answer.status).toBe(429);
    expect(JSON.parse(answer.body)).toMatchObject({ code: "resource_exhausted" });
    await expectHealthy();
  });

  it("Connect: a chunked body that grows past the limit is 429 resource_exhausted", async () => {
    const answer = await http1(HEALTH_CHECK, {
      headers: { "content-type": "application/json" },
      body: (req) => {
        req.write(`{"service":"`);
        for (let i = 0; i < 64; i++) req.write("x".repeat(1024));
        req.end(`"}`);
      },
    });
    expect(answer.status).toBe(429);
    await expectHealthy();
  });

  it("REST: declared and chunked bodies over the limit are 413", async () => {
    const path = `/v2/users/${userId}/password_reset`;
    const body = JSON.stringify({ returnCode: {}, padding: "x".repeat(MAX_BODY) });
    const declared = await http1(path, { headers: { "content-type": "application/json", ...auth() }, body });
    expect(declared.status).toBe(413);
    const chunked = await http1(path, {
      headers: { "content-type": "application/json", ...auth() },
      body: (req) => {
        for (let i = 0; i < 64; i++) req.write("x".repeat(1024));
        req.end();
      },
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ code: 8 });
    await expectHealthy();
  });

  it("memory stays bounded after all the oversized bodies", () => {
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
  });
});

describe("unsupported content types", () => {
  it("Connect: text/xml is 415", async () => {
    const answer = await http1(HEALTH_CHECK, { headers: { "content-type": "text/xml" }, body: "<check/>" });
    expect(answer.status).toBe(415);
    await expectHealthy();
  });

  it("gRPC: application/grpc+xml is HTTP 415", async () => {
    const answer = await h2Post(HEALTH_CHECK, grpcFrame(Buffer.alloc(0)), { "content-type": "application/grpc+xml" });
    expect(answer.status).toBe(415);
    await expectHealthy();
  });

  it("REST: a body of another type is 415, and a JSON body that is not JSON is 400, both InvalidArgument", async () => {
    const path = `/v2/users/${userId}/password_reset`;
    for (const [type, body, status] of [["application/xml", "<returnCode/>", 415], ["application/x-www-form-urlencoded", "returnCode=1", 415], ["application/json", "{", 400]] as const) {
      const answer = await http1(path, { headers: { "content-type": type, ...auth() }, body });
      expect(answer.status, type).toBe(status);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 3 });
    }
    await expectHealthy();
  });
});

describe("many HTTP/2 streams on one connection", () => {
  it("advertises the stream limit, and a client that keeps to it gets all of 300 calls answered", async () => {
    const session = http2.connect(server.url);
    try {
      const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
      expect(settings.maxConcurrentStreams).toBe(LIMITS.http2MaxConcurrentStreams);
      const calls = Array.from({ length: 300 }, async () => {
        const stream = session.request({ ":method": "POST", ":path": HEALTH_CHECK, "content-type": "application/grpc", te: "trailers" });
        let status: string | undefined;
        stream.on("trailers", (t) => (status = String(t["grpc-status"])));
        stream.on("response", (h) => (status ??= h["grpc-status"] as string | undefined));
        stream.resume();
        stream.end(grpcFrame(Buffer.alloc(0)));
        await once(stream, "close");
        return { status, rstCode: stream.rstCode };
      });
      const answers = await Promise.all(calls);
      expect(answers.every((a) => a.status === "0" && a.rstCode === NGHTTP2_NO_ERROR)).toBe(true);
    } finally {
      session.close();
    }
    await expectHealthy();
  });

  it("refuses the streams over the limit of a client that ignores it, and answers the others", async () => {
    const h2 = await rawH2();
    const count = LIMITS.http2MaxConcurrentStreams + 50;
    const ids = Array.from({ length: count }, (_, i) => 2 * i + 1);
    h2.socket.write(Buffer.concat(ids.map((id) => frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, getHeaders("/healthz")))));
    const outcome = new Map<number, "ok" | "refused" | "other">();
    const settle = () => {
      for (const f of h2.frames) {
        if (f.type === FRAME.RST_STREAM) outcome.set(f.streamId, rstCodeOf(f) === NGHTTP2_REFUSED_STREAM ? "refused" : "other");
        if ((f.type === FRAME.DATA || f.type === FRAME.HEADERS) && f.flags & FLAG.END_STREAM && !outcome.has(f.streamId)) outcome.set(f.streamId, "ok");
      }
      return outcome.size === count;
    };
    await h2.until(settle);
    h2.socket.destroy();
    const tally = { ok: 0, refused: 0, other: 0 };
    for (const result of outcome.values()) tally[result]++;
    expect(tally.refused).toBeGreaterThan(0);
    expect(tally.ok).toBeGreaterThanOrEqual(LIMITS.http2MaxConcurrentStreams);
    expect(tally.other).toBe(0);
    const responses = h2.frames.filter((f) => f.type === FRAME.HEADERS && outcome.get(f.streamId) === "ok");
    expect(responses.every((f) => statusOf(f.payload) === 200)).toBe(true);
    await expectHealthy();
  });

  it("a flood of streams far over the limit ends the connection, not the server", async () => {
    const h2 = await rawH2();
    const ids = Array.from({ length: 1000 }, (_, i) => 2 * i + 1);
    h2.socket.write(Buffer.concat(ids.map((id) => frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, getHeaders("/healthz")))));
    await closesWithin(h2.closed, "the flooding connection");
    expect(h2.frames.some((f) => f.type === FRAME.GOAWAY)).toBe(true);
    await expectHealthy();
  });

  it("opening and at once resetting thousands of streams (rapid reset) does not take the server down", async () => {
    const h2 = await rawH2();
    const burst: Buffer[] = [];
    for (let i = 0; i < 5_000; i++) {
      const id = 2 * i + 1;
      burst.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, getHeaders("/healthz")));
      const code = Buffer.alloc(4);
      code.writeUInt32BE(NGHTTP2_CANCEL);
      burst.push(frame(FRAME.RST_STREAM, 0, id, code));
    }
    h2.socket.write(Buffer.concat(burst));
    // Node 24 ends such a connection: nghttp2's reset-rate limit fails the session, which
    // sends GOAWAY and is destroyed (Node 20 sent the GOAWAY but left the socket open)
    await closesWithin(h2.closed, "the rapid-reset connection");
    const goaway = h2.frames.find((f) => f.type === FRAME.GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
    const answered = h2.frames.filter((f) => f.type === FRAME.HEADERS).length;
    expect(answered).toBeLessThan(100);
    await expectHealthy();
  });
});

describe("oversized headers", () => {
  it("HTTP/1.1: a 100 KB header is 431 and the connection is reset", async () => {
    const { socket, received, closed, error } = await rawSocket();
    socket.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(100 * 1024)}\r\n\r\n`);
    await closesWithin(closed, "the connection");
    expect(received().toString("latin1")).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n$/);
    // Node stops reading at the limit and closes with the rest of the header unread,
    // so the kernel ends the connection with a reset after the 431
    expect(error()?.code).toBe("ECONNRESET");
    await expectHealthy();
  });

  /** Sends a header block as HEADERS and CONTINUATION frames of at most 16 KB. */
  function sendHeaderBlock(socket: net.Socket, streamId: number, block: Buffer): void {
    const pieces: Buffer[] = [];
    for (let at = 0; at < block.length; at += 16_384) pieces.push(block.subarray(at, at + 16_384));
    const frames = pieces.map((piece, i) =>
      frame(i === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, (i === 0 ? FLAG.END_STREAM : 0) | (i === pieces.length - 1 ? FLAG.END_HEADERS : 0), streamId, piece),
    );
    socket.write(Buffer.concat(frames));
  }

  const hundredKilobytes = Array.from({ length: 100 }, (_, i): [string, string] => [`x-big-${i}`, "a".repeat(1024)]);

  it("HTTP/2: a 100 KB header list sent before the limit is acknowledged is 431", async () => {
    const h2 = await rawH2();
    sendHeaderBlock(h2.socket, 1, getHeaders("/healthz", hundredKilobytes));
    await h2.until(() => h2.frames.some((f) => f.flags & FLAG.END_STREAM && f.streamId === 1));
    const response = h2.frames.find((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    expect(response && statusOf(response.payload)).toBe(431);
    expect(h2.frames.some((f) => f.type === FRAME.DATA && f.streamId === 1 && f.payload.length > 0)).toBe(false);

    h2.socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, getHeaders("/healthz")));
    await h2.until(() => h2.frames.some((f) => f.type === FRAME.DATA && f.streamId === 3 && f.flags & FLAG.END_STREAM));
    expect(statusOf(h2.frames.find((f) => f.type === FRAME.HEADERS && f.streamId === 3)!.payload)).toBe(200);
    h2.socket.destroy();
    await expectHealthy();
  });

  it("HTTP/2: a 100 KB header list sent after the limit is acknowledged resets the stream; the next is answered", async () => {
    const h2 = await rawH2();
    await h2.until(() => h2.frames.some((f) => f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK)));
    await h2.until(() => h2.frames.some((f) => f.type === FRAME.SETTINGS && f.flags & FLAG.ACK));
    // the acknowledgement of the server's settings went out right after they arrived
    h2.socket.write(frame(FRAME.PING, 0, 0, Buffer.alloc(8)));
    await h2.until(() => h2.frames.some((f) => f.type === FRAME.PING && f.flags & FLAG.ACK));
    sendHeaderBlock(h2.socket, 1, getHeaders("/healthz", hundredKilobytes));
    await h2.until(() => h2.frames.some((f) => f.streamId === 1 && (f.type === FRAME.RST_STREAM || f.flags & FLAG.END_STREAM)));
    const reset = h2.frames.find((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
    expect(reset && rstCodeOf(reset)).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(h2.frames.some((f) => f.type === FRAME.HEADERS && f.streamId === 1)).toBe(false);

    h2.socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, getHeaders("/healthz")));
    await h2.until(() => h2.frames.some((f) => f.type === FRAME.DATA && f.streamId === 3 && f.flags & FLAG.END_STREAM));
    h2.socket.destroy();
    await expectHealthy();
  });

  it("HTTP/2: a single 100 KB header field ends the connection with GOAWAY COMPRESSION_ERROR", async () => {
    const h2 = await rawH2();
    sendHeaderBlock(h2.socket, 1, getHeaders("/healthz", [["x-big", "a".repeat(100 * 1024)]]));
    await closesWithin(h2.closed, "the connection");
    const goaway = h2.frames.find((f) => f.type === FRAME.GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(http2.constants.NGHTTP2_COMPRESSION_ERROR);
    expect(h2.frames.some((f) => f.type === FRAME.HEADERS)).toBe(false);
    await expectHealthy();
  });

  it("HTTP/2 through node:http2: a 100 KB header fails the call cleanly", async () => {
    const answer = await h2Post(HEALTH_CHECK, grpcFrame(Buffer.alloc(0)), { "x-big": "a".repeat(100 * 1024) }).catch((err: Error) => err);
    if (!(answer instanceof Error)) {
      expect(answer.status).toBeUndefined();
      expect(answer.rstCode).not.toBe(NGHTTP2_NO_ERROR);
    }
    await expectHealthy();
  });
});

describe("slow and idle connections", () => {
  it("a connection that never sends a byte is closed", async () => {
    const { closed } = await rawSocket();
    await closesWithin(closed, "a silent connection");
    await expectHealthy();
  });

  it("a connection that stops inside the HTTP/2 preface is closed", async () => {
    const { socket, closed } = await rawSocket();
    socket.write(PREFACE.subarray(0, 10));
    await closesWithin(closed, "a half preface");
  });

  it("HTTP/1.1 headers that trickle in are cut off with 408", async () => {
    const { socket, received, closed } = await rawSocket();
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n");
    const trickle = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 100);
    try {
      await closesWithin(closed, "trickling headers");
    } finally {
      clearInterval(trickle);
    }
    expect(received().toString("latin1")).toMatch(/^HTTP\/1\.1 408 /);
    await expectHealthy();
  });

  it("an HTTP/1.1 body that never finishes is cut off with 408", async () => {
    const { socket, received, closed } = await rawSocket();
    socket.write(`POST ${HEALTH_CHECK} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"serv`);
    const trickle = setInterval(() => socket.writable && socket.write(" "), 100);
    try {
      await closesWithin(closed, "a body that never ends");
    } finally {
      clearInterval(trickle);
    }
    expect(received().toString("latin1")).toMatch(/^HTTP\/1\.1 408 /);
    await expectHealthy();
  });

  it("an idle kept-alive HTTP/1.1 connection is closed after its request", async () => {
    const { socket, received, closed } = await rawSocket();
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await closesWithin(closed, "an idle kept-alive connection");
    expect(received().toString("latin1")).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("an HTTP/2 connection that never opens a stream is closed with GOAWAY", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    const goaway = once(session, "goaway");
    await closesWithin(once(session, "close"), "a session without streams");
    await goaway;
  });

  it("an HTTP/2 connection whose header block never ends is closed, pings or not", async () => {
    const h2 = await rawH2();
    h2.socket.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, getHeaders("/healthz").subarray(0, 20)));
    const pings = setInterval(() => h2.socket.writable && h2.socket.write(frame(FRAME.PING, 0, 0, Buffer.alloc(8))), 100);
    try {
      await closesWithin(h2.closed, "a connection with unfinished headers");
    } finally {
      clearInterval(pings);
    }
    await expectHealthy();
  });

  it("an HTTP/2 request body that never finishes is cancelled; the connection's other streams are answered", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    try {
      const slow = session.request({ ":method": "POST", ":path": HEALTH_CHECK, "content-type": "application/grpc", te: "trailers" });
      slow.on("error", () => {});
      slow.resume();
      slow.write(grpcFrame(Buffer.from([0x0a, 0x00]), { declared: 1_000 }));
      const trickle = setInterval(() => !slow.closed && slow.write(Buffer.from([0x00])), 100);

      const other = session.request({ ":method": "POST", ":path": HEALTH_CHECK, "content-type": "application/grpc", te: "trailers" });
      let status: unknown;
      other.on("trailers", (t) => (status = t["grpc-status"]));
      other.resume();
      other.end(grpcFrame(Buffer.alloc(0)));
      await once(other, "close");
      expect(status).toBe("0");

      try {
        await closesWithin(once(slow, "close"), "a stream whose body never ends");
      } finally {
        clearInterval(trickle);
      }
      expect(slow.rstCode).toBe(NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
    await expectHealthy();
  });

  it("an HTTP/2 connection is closed with GOAWAY once idle after its streams", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    const answer = session.request({ ":path": "/healthz" });
    answer.resume();
    await once(answer, "close");
    expect(answer.rstCode).toBe(NGHTTP2_NO_ERROR);
    await closesWithin(once(session, "close"), "an idle session");
  });

  it("a client that stops answering while it holds a health Watch is pinged, then closed", async () => {
    const h2 = await rawH2();
    h2.socket.write(
      Buffer.concat([
        frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, requestHeaders("POST", HEALTH_WATCH, [["content-type", "application/grpc"], ["te", "trailers"]])),
        frame(FRAME.DATA, FLAG.END_STREAM, 1, grpcFrame(Buffer.alloc(0))),
      ]),
    );
    // the stream is open and watching: its first status has come
    await h2.until(() => h2.frames.some((f) => f.type === FRAME.DATA && f.streamId === 1 && f.payload.length > 0));
    // from here on the client sends nothing, and never acknowledges a PING
    await closesWithin(h2.closed, "a connection whose peer stopped answering");
    expect(h2.frames.some((f) => f.type === FRAME.PING && !(f.flags & FLAG.ACK))).toBe(true);
    expect(h2.frames.some((f) => f.type === FRAME.DATA && f.streamId === 1 && f.flags & FLAG.END_STREAM)).toBe(false);
    await expectHealthy();
  });

  it("a client that answers the pings keeps its health Watch open", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    let pings = 0;
    session.on("ping", () => pings++);
    try {
      const watch = session.request({ ":method": "POST", ":path": HEALTH_WATCH, "content-type": "application/grpc", te: "trailers" });
      watch.on("error", () => {});
      const first = once(watch, "data");
      watch.end(grpcFrame(Buffer.alloc(0)));
      await first;
      await new Promise((resolve) => setTimeout(resolve, 3 * (LIMITS.http2KeepAliveIntervalMs + LIMITS.http2KeepAliveTimeoutMs)));
      expect(pings).toBeGreaterThan(0);
      expect(session.closed || session.destroyed).toBe(false);
      expect(watch.closed).toBe(false);
    } finally {
      session.destroy();
    }
  });

  it("a hundred slow connections at once are all closed, and the server answers meanwhile", async () => {
    const sockets = await Promise.all(Array.from({ length: 100 }, () => rawSocket()));
    sockets.forEach(({ socket }, i) => socket.write(i % 2 ? "GET /healthz HTTP/1.1\r\nHost: x\r\n" : PREFACE));
    await expectHealthy();
    await closesWithin(Promise.all(sockets.map((s) => s.closed)), "a hundred slow connections");
  });

  it("logged no unexpected errors through all of the above", () => {
    const errors = server.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
    expect(errors).toEqual([]);
  });
});
