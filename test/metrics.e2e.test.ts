/**
 * Prometheus metrics on their own port: calls over every protocol, failing and
 * rate-limited ones included, the Auth0 endpoint, the event store and the
 * notifier move exactly the series they should.
 */
import { once } from "node:events";
import * as http2 from "node:http2";
import { NotificationType } from "@zitadel/proto/zitadel/user/v2/password_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addApplication } from "../src/command/application/commands.js";
import { DEFAULT_CONNECTION } from "../src/command/org/connection.js";
import { defaultConfig } from "../src/config.js";
import { ConcurrencyError } from "../src/eventstore/eventstore.js";
import { allClients, type TestClient } from "./support/clients.js";
import { addUser, freePort, waitUntil } from "./support/notification.js";
import { startTestServer, type TestServer } from "./support/server.js";

let server: TestServer;
let metricsUrl: string;
let clients: TestClient[];
const client = (prefix: string) => clients.find((c) => c.name.startsWith(prefix))!;

beforeAll(async () => {
  server = await startTestServer({
    config: {
      metricsPort: 0,
      notifyPollMs: 20,
      // nobody listens there: every SMS fails and waits an hour for its retry
      smsWebhook: { url: `http://127.0.0.1:${await freePort()}/sms`, secret: "webhook-secret" },
      notifyRetryDelayMs: 3_600_000,
      rateLimits: {
        enabled: true,
        changePassword: { points: 1, periodSeconds: 60 },
        resetPerUser: { points: 1, periodSeconds: 3600 },
        resetPerToken: { points: 600, periodSeconds: 60 },
      },
    },
  });
  metricsUrl = server.server.metricsUrl!;
  clients = allClients(server.url);
});

afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await server?.close();
});

type Samples = Map<string, number>;

/** Every sample of the exposition, keyed by name and labels as written (`name{a="b"}`). */
async function scrape(): Promise<Samples> {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  const samples: Samples = new Map();
  for (const line of (await res.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The series of a metric that moved between two scrapes, by their labels. */
function moved(before: Samples, after: Samples, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    const brace = key.indexOf("{");
    if ((brace === -1 ? key : key.slice(0, brace)) !== name) continue;
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) out[brace === -1 ? "" : key.slice(brace)] = delta;
  }
  return out;
}

const requests = (method: string, protocol: string, code: string) =>
  `{method="${method.startsWith("/") ? method : `zitadel.user.v2.UserService/${method}`}",protocol="${protocol}",code="${code}"}`;
const durations = (method: string, protocol: string) => `{method="zitadel.user.v2.UserService/${method}",protocol="${protocol}"}`;

function rest(path: string, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${server.adminToken}` };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return fetch(`${server.url}${path}`, { ...init, headers });
}

function changePassword(fields: Record<string, string>): Promise<Response> {
  return fetch(`${server.url}/dbconnections/change_password`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(fields) });
}

describe("the metrics endpoint", () => {
  it("is off unless a port is set, and then only on its own port, on loopback by default", async () => {
    expect(defaultConfig().metricsPort).toBeUndefined();
    expect(defaultConfig().metricsHost).toBe("127.0.0.1");
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(metricsUrl).port).not.toBe(String(server.port));

    const pub = await fetch(`${server.url}/metrics`);
    expect(pub.status).toBe(404);
    await pub.body?.cancel();
    expect((await fetch(new URL("/other", metricsUrl))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: "POST" })).status).toBe(405);

    const res = await fetch(metricsUrl);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of ["process_cpu_user_seconds_total", "nodejs_heap_size_used_bytes", "latchkey_notifier_lag_events", "latchkey_eventstore_append_duration_seconds_bucket"]) {
      expect(text).toContain(`\n${name}`);
    }
    expect(text).toContain('latchkey_rate_limit_rejections_total{limit="reset_token"} 0');
    expect(text).toContain('latchkey_notifications_failed_total{medium="sms"} 0');
  });
});

describe("counters", () => {
  it("move by exactly the calls, appends, deliveries and refusals made", async () => {
    const a = await addUser(server.url, server.adminToken);
    const b = await addUser(server.url, server.adminToken);
    const noPhone = await addUser(server.url, server.adminToken);
    const withPhone = await addUser(server.url, server.adminToken, { phone: "+41791112233" });
    const clientId = await addApplication(server.server.app.aggregates, { name: "metrics", origins: [] });
    const before = await scrape();
    const token = server.adminToken;
    const sms = { case: "sendLink" as const, value: { notificationType: NotificationType.SMS } };

    // gRPC, Connect and gRPC-web; successes and failures
    expect((await client("connect gRPC").call("passwordReset", { userId: a.userId, medium: { case: "returnCode", value: {} } }, token)).ok).toBe(true);
    expect((await client("@grpc/grpc-js").call("passwordReset", { userId: a.userId, medium: { case: "returnCode", value: {} } }, token)).ok).toBe(true);
    expect(await client("@grpc/grpc-js").call("getUserByID", { userId: "123" }, token)).toMatchObject({ ok: false });
    expect(await client("connect JSON").call("passwordReset", { userId: a.userId })).toMatchObject({ ok: false, id: "AUTH-x7Bq3" });
    expect((await client("gRPC-web").call("getUserByID", { userId: a.userId }, token)).ok).toBe(true);
    expect(await client("gRPC-web").call("passwordReset", { userId: "" }, token)).toMatchObject({ ok: false });

    // REST
    expect((await rest(`/v2/users/${a.userId}/password_reset`, { method: "POST", body: '{"returnCode":{}}' })).status).toBe(200);
    expect((await rest("/v2/users/123")).status).toBe(404);

    // one message-sending reset per user: the second is refused
    expect((await client("connect gRPC").call("passwordReset", { userId: b.userId }, token)).ok).toBe(true);
    expect((await rest(`/v2/users/${b.userId}/password_reset`, { method: "POST", body: "{}" })).status).toBe(429);

    // an SMS to a user without a number fails for good; one to the unreachable webhook waits for its retry
    expect((await client("connect JSON").call("passwordReset", { userId: noPhone.userId, medium: sms }, token)).ok).toBe(true);
    expect((await client("connect JSON").call("passwordReset", { userId: withPhone.userId, medium: sms }, token)).ok).toBe(true);

    // Auth0: an unknown application, a wrong method, then one address twice within its limit's minute
    const lookup = { client_id: clientId, connection: DEFAULT_CONNECTION, email: "nobody@example.com" };
    expect((await changePassword({ ...lookup, client_id: "unknown" })).status).toBe(400);
    expect((await fetch(`${server.url}/dbconnections/change_password`)).status).toBe(405);
    expect((await changePassword(lookup)).status).toBe(200);
    expect((await changePassword(lookup)).status).toBe(429);

    // an append that lost the race
    const stale = server.server.app.store.append([
      { aggregate: { type: "user", id: a.userId }, resourceOwner: a.orgId, expectedSequence: 1, events: [{ type: "test.stale", payload: {}, editor: "test" }] },
    ]);
    await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);

    const after = await waitUntil(async () => {
      const s = await scrape();
      const settled =
        moved(before, s, "latchkey_notifications_sent_total")['{medium="email"}'] === 1 &&
        moved(before, s, "latchkey_notifications_failed_total")['{medium="sms"}'] === 1 &&
        moved(before, s, "latchkey_notification_retries_total")['{medium="sms"}'] === 1 &&
        s.get("latchkey_notifier_lag_events") === 0;
      return settled && s;
    }, "the notifier to deliver, fail and reschedule");

    expect(moved(before, after, "latchkey_requests_total")).toEqual({
      [requests("PasswordReset", "grpc", "OK")]: 3,
      [requests("GetUserByID", "grpc", "NotFound")]: 1,
      [requests("PasswordReset", "connect", "Unauthenticated")]: 1,
      [requests("PasswordReset", "connect", "OK")]: 2,
      [requests("GetUserByID", "grpc-web", "OK")]: 1,
      [requests("PasswordReset", "grpc-web", "InvalidArgument")]: 1,
      [requests("PasswordReset", "rest", "OK")]: 1,
      [requests("GetUserByID", "rest", "NotFound")]: 1,
      [requests("PasswordReset", "rest", "ResourceExhausted")]: 1,
      [requests("/dbconnections/change_password", "auth0", "400")]: 1,
      [requests("/dbconnections/change_password", "auth0", "405")]: 1,
      [requests("/dbconnections/change_password", "auth0", "200")]: 1,
      [requests("/dbconnections/change_password", "auth0", "429")]: 1,
    });
    expect(moved(before, after, "latchkey_request_duration_seconds_count")).toEqual({
      [durations("PasswordReset", "grpc")]: 3,
      [durations("GetUserByID", "grpc")]: 1,
      [durations("PasswordReset", "connect")]: 3,
      [durations("GetUserByID", "grpc-web")]: 1,
      [durations("PasswordReset", "grpc-web")]: 1,
      [durations("PasswordReset", "rest")]: 2,
      [durations("GetUserByID", "rest")]: 1,
      ['{method="/dbconnections/change_password",protocol="auth0"}']: 4,
    });
    expect(moved(before, after, "latchkey_rate_limit_rejections_total")).toEqual({ '{limit="reset_user"}': 1, '{limit="change_password"}': 1 });
    expect(moved(before, after, "latchkey_notifications_sent_total")).toEqual({ '{medium="email"}': 1 });
    expect(moved(before, after, "latchkey_notifications_failed_total")).toEqual({ '{medium="sms"}': 1 });
    expect(moved(before, after, "latchkey_notification_retries_total")).toEqual({ '{medium="sms"}': 1 });

    // code added: 3 for a, 1 each for b, noPhone, withPhone; code sent for b, failure for noPhone; the stale one
    expect(moved(before, after, "latchkey_eventstore_append_duration_seconds_count")).toEqual({ "": 9 });
    expect(moved(before, after, "latchkey_eventstore_concurrency_conflicts_total")).toEqual({ "": 1 });

    // the SMS waiting for its retry
    expect(after.get("latchkey_notifier_pending_messages")).toBe(1);
    expect(after.get("latchkey_notifier_oldest_pending_age_seconds")).toBeGreaterThan(0);
  });
});

describe("requests refused before they reach a method", () => {
  const RESET = "/zitadel.user.v2.UserService/PasswordReset";
  const SECRET = "Hunter2-secret-in-the-body";

  /** A gRPC call over HTTP/2 with one length-prefixed message; its grpc-status. */
  async function grpc(path: string, message: Buffer, declared = message.length): Promise<string | undefined> {
    const session = http2.connect(server.url);
    try {
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", "x-request-id": "refused-grpc" });
      let status: string | undefined;
      stream.on("response", (h) => (status ??= h["grpc-status"] as string | undefined));
      stream.on("trailers", (t) => (status ??= t["grpc-status"] as string | undefined));
      stream.on("error", () => {});
      stream.resume();
      const head = Buffer.alloc(5);
      head.writeUInt32BE(declared, 1);
      stream.end(Buffer.concat([head, message]));
      await once(stream, "close");
      return status;
    } finally {
      session.close();
    }
  }

  it("are counted by protocol and status, and logged once each without query or body", async () => {
    const before = await scrape();
    const post = (path: string, type: string, body: BodyInit, id: string) =>
      fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": type, "x-request-id": id, authorization: `Bearer ${server.adminToken}` }, body }).then((r) => r.status);

    // REST: malformed JSON, no route, wrong method, too large, not JSON
    expect(await post(`/v2/users/1/password_reset?token=${SECRET}`, "application/json", `{"returnCode": "${SECRET}"`, "refused-json")).toBe(400);
    expect((await rest(`/v2/nothing?code=${SECRET}`)).status).toBe(404);
    expect((await rest("/v2/users/1", { method: "PUT" })).status).toBe(405);
    expect(await post("/v2/users/1/password_reset", "application/json", JSON.stringify({ pad: "x".repeat(1024 * 1024) }), "refused-413")).toBe(413);
    expect(await post("/v2/users/1/password_reset", "text/plain", `{"returnCode":{},"x":"${SECRET}"}`, "refused-415")).toBe(415);
    // Connect: protobuf that does not decode, a body over the limit, a procedure that does not exist
    expect(await post(RESET, "application/proto", Buffer.from([0xff, 0xff, 0xff]), "refused-proto")).toBe(400);
    expect(await post(RESET, "application/json", JSON.stringify({ userId: "x".repeat(1024 * 1024) }), "refused-connect-size")).toBe(429);
    expect(await post("/zitadel.user.v2.UserService/Nope", "application/json", "{}", "refused-procedure")).toBe(404);
    // gRPC: a message over the limit, one that does not decode
    expect(await grpc(RESET, Buffer.alloc(16), 1 << 30)).toBe("8");
    expect(await grpc(RESET, Buffer.from([0xff, 0xff, 0xff]))).toBe("3");
    // gRPC-web: undecodable
    expect(await post(RESET, "application/grpc-web+proto", Buffer.from([0, 0, 0, 0, 3, 0xff, 0xff, 0xff]), "refused-grpc-web")).toBe(200);
    // answers that are not refusals
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await rest("/v2/users/1")).status).toBe(404); // reached GetUserByID: a call, not a refusal

    const after = await scrape();
    expect(moved(before, after, "latchkey_requests_refused_total")).toEqual({
      '{protocol="rest",status="400"}': 1,
      '{protocol="http",status="404"}': 1,
      '{protocol="rest",status="405"}': 1,
      '{protocol="rest",status="413"}': 1,
      '{protocol="rest",status="415"}': 1,
      '{protocol="connect",status="400"}': 1,
      '{protocol="connect",status="429"}': 1,
      '{protocol="connect",status="404"}': 1,
      '{protocol="grpc",status="ResourceExhausted"}': 1,
      '{protocol="grpc",status="InvalidArgument"}': 1,
      '{protocol="grpc-web",status="InvalidArgument"}': 1,
    });

    const lines = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "refused");
    const line = (requestId: string) => lines.filter((l) => l.requestId === requestId);
    expect(line("refused-json")).toEqual([expect.objectContaining({ level: 30, method: "POST", path: "/v2/users/1/password_reset", protocol: "rest", status: "400" })]);
    expect(line("refused-415")).toEqual([expect.objectContaining({ method: "POST", path: "/v2/users/1/password_reset", status: "415" })]);
    expect(line("refused-proto")).toEqual([expect.objectContaining({ path: RESET, protocol: "connect", status: "400" })]);
    expect(line("refused-grpc")).toEqual([
      expect.objectContaining({ path: RESET, protocol: "grpc", status: "ResourceExhausted" }),
      expect.objectContaining({ path: RESET, protocol: "grpc", status: "InvalidArgument" }),
    ]);
    expect(lines.find((l) => l.path === "/v2/nothing")).toMatchObject({ method: "GET", protocol: "http", status: "404", requestId: expect.any(String) });
    expect(lines.filter((l) => l.requestId === undefined)).toEqual([]);
    expect(server.logs.filter((l) => l.includes(SECRET))).toEqual([]);
  });

  it("answer with the request id they were logged under", async () => {
    const res = await fetch(`${server.url}/v2/nothing`);
    await res.body?.cancel();
    const requestId = res.headers.get("x-request-id");
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.requestId === requestId)).toEqual([expect.objectContaining({ msg: "refused", path: "/v2/nothing" })]);
  });
});
