import * as http from "node:http";
import * as http2 from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import { corsHandler } from "../src/server/cors.js";
import { listen, type Listener } from "../src/server/listen.js";
import { startTestServer } from "./support/server.js";

const ALLOWED = "https://app.example.com";

interface Answer {
  status: number;
  headers: Record<string, string>;
}

const listeners: Listener[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close(0)));
});

/** Serves with CORS in front of a handler that answers 200 "app". */
async function start(allowedOrigins: readonly string[]) {
  const cors = corsHandler(allowedOrigins);
  const listener = await listen(
    (req, res) => {
      if (cors(req, res)) return;
      (res as http.ServerResponse).end("app");
    },
    { port: 0, host: "127.0.0.1" },
  );
  listeners.push(listener);
  return listener;
}

function request(url: string, method: string, headers: http.OutgoingHttpHeaders): Promise<Answer & { body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

function preflight(url: string, origin: string, method = "POST") {
  return request(url, "OPTIONS", {
    origin,
    "access-control-request-method": method,
    "access-control-request-headers": "content-type,connect-protocol-version,authorization",
  });
}

function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
}

describe("corsHandler", () => {
  it("answers a preflight from an allowed origin with the Connect, gRPC-web and auth headers", async () => {
    const listener = await start([ALLOWED, "https://other.example.com"]);
    const res = await preflight(`${listener.url}/latchkey.v1.ResetService/Start`, ALLOWED);

    expect(res.status).toBe(204);
    expect(res.body).toBe("");
    expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(list(res.headers["vary"])).toContain("origin");
    expect(list(res.headers["access-control-allow-methods"])).toEqual(expect.arrayContaining(["post", "get"]));
    expect(list(res.headers["access-control-allow-headers"])).toEqual(
      expect.arrayContaining([
        "content-type",
        "connect-protocol-version",
        "connect-timeout-ms",
        "grpc-timeout",
        "x-grpc-web",
        "x-user-agent",
        "authorization",
      ]),
    );
    expect(res.headers["access-control-max-age"]).toBe("7200");
  });

  it("exposes the gRPC-web and rate-limit headers on actual responses", async () => {
    const listener = await start([ALLOWED]);
    const res = await request(`${listener.url}/x`, "POST", { origin: ALLOWED });

    expect(res.body).toBe("app");
    expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(list(res.headers["access-control-expose-headers"])).toEqual(
      expect.arrayContaining([
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
      ]),
    );
  });

  it("does not allow other origins", async () => {
    const listener = await start([ALLOWED]);
    const pre = await preflight(`${listener.url}/x`, "https://evil.example.com");
    expect(pre.headers["access-control-allow-origin"]).toBeUndefined();

    const res = await request(`${listener.url}/x`, "POST", { origin: "https://evil.example.com" });
    expect(res.body).toBe("app");
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("allows any origin with *", async () => {
    const listener = await start(["*"]);
    const res = await preflight(`${listener.url}/x`, "https://anywhere.example.com");
    expect(res.status).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(list(res.headers["access-control-allow-headers"])).toContain("connect-protocol-version");
  });

  it("adds nothing and answers nothing when no origin is allowed", async () => {
    const listener = await start([]);
    const pre = await preflight(`${listener.url}/x`, ALLOWED);
    expect(pre.body).toBe("app");
    expect(Object.keys(pre.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
  });

  it("works on HTTP/2 requests", async () => {
    const listener = await start([ALLOWED]);
    const session = http2.connect(listener.url);
    try {
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const stream = session.request({
          ":method": "OPTIONS",
          ":path": "/x",
          origin: ALLOWED,
          "access-control-request-method": "POST",
        });
        stream.on("response", resolve);
        stream.on("error", reject);
        stream.resume();
      });
      expect(headers[":status"]).toBe(204);
      expect(headers["access-control-allow-origin"]).toBe(ALLOWED);
      expect(list(headers["access-control-allow-headers"] as string)).toContain("grpc-timeout");
    } finally {
      session.close();
    }
  });
});

describe("CORS on the server", () => {
  it("allows the REST routes' methods, DELETE included, besides Connect's GET and POST", async () => {
    const server = await startTestServer({ config: { corsOrigins: [ALLOWED] } });
    try {
      const pre = await preflight(`${server.url}/v2/users/123`, ALLOWED, "DELETE");
      expect(pre.status).toBe(204);
      expect(pre.headers["access-control-allow-origin"]).toBe(ALLOWED);
      expect(list(pre.headers["access-control-allow-methods"]).sort()).toEqual(["delete", "get", "post"]);

      // and the browser's DELETE itself is let through to the gateway
      const res = await request(`${server.url}/v2/users/123`, "DELETE", { origin: ALLOWED, authorization: `Bearer ${server.adminToken}` });
      expect(res.status).toBe(404);
      expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
    } finally {
      await server.close();
    }
  });
});
