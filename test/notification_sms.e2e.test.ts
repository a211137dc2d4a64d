/** SMS through the HTTP webhook: signed JSON, retries, failures. */
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { NotificationType } from "@zitadel/proto/zitadel/user/v2/password_pb.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { UserEvents } from "../src/command/user/events.js";
import { addUser, eventsOfType, realCode, resetPassword, waitUntil } from "./support/notification.js";
import { startTestServer, type TestServer } from "./support/server.js";

const SECRET = "webhook-secret-4f1c";

interface Hook {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: { messageId: string; to: string; text: string };
  status: number;
}

const hooks: Hook[] = [];
/** status to answer per recipient, one entry per request; 200 once the list is used up */
const answers = new Map<string, number[]>([
  ["+41790000503", [503]],
  ["+41790000400", [400]],
]);

let webhook: http.Server;
let server: TestServer;

beforeAll(async () => {
  webhook = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const body = JSON.parse(raw) as Hook["body"];
      const status = answers.get(body.to)?.shift() ?? 200;
      hooks.push({ headers: req.headers, raw, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
  server = await startTestServer({
    config: {
      smsWebhook: { url: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/sms`, secret: SECRET },
      notifyPollMs: 20,
      notifyRetryDelayMs: 20,
    },
  });
});

afterAll(async () => {
  await server.close();
  await new Promise((resolve) => webhook.close(resolve));
});

const sms = { medium: { case: "sendLink", value: { notificationType: NotificationType.SMS } } };
const events = (userId: string) => server.server.app.store.readAggregate({ type: "user", id: userId });
const hooksTo = (phone: string) => hooks.filter((h) => h.body.to === phone);

function validSignature(hook: Hook): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hook.headers["x-latchkey-signature"]));
  if (!match) return false;
  const expected = createHmac("sha256", SECRET).update(`${match[1]}.${hook.raw}`).digest();
  const fresh = Math.abs(Date.now() / 1000 - Number(match[1])) < 300;
  return fresh && timingSafeEqual(expected, Buffer.from(match[2]!, "hex"));
}

it("the webhook receives signed JSON with the real code and the link", async () => {
  const phone = "+41791234567";
  const { userId, orgId } = await addUser(server.url, server.adminToken, { phone });
  await resetPassword(server.url, server.adminToken, userId, sms);
  const hook = await waitUntil(() => hooksTo(phone)[0], "the webhook call");

  const code = realCode(server.dataDir, await events(userId), 2);
  expect(code).toMatch(/^[A-Z0-9]{6}$/);
  expect(hook.headers["content-type"]).toBe("application/json");
  expect(validSignature(hook)).toBe(true);
  expect(validSignature({ ...hook, raw: hook.raw.replace(code, "AAAAAA") })).toBe(false);
  expect(hook.body).toEqual({
    messageId: `${userId}.2.default@localhost`,
    to: phone,
    text: `Your password reset code is ${code}. Reset your password at http://localhost:8080/ui/login/password/init?userID=${userId}&code=${code}&orgID=${orgId}`,
  });
  expect(hook.headers["idempotency-key"]).toBe(hook.body.messageId);
  await waitUntil(async () => eventsOfType(await events(userId), UserEvents.passwordCodeSent).length === 1, "code.sent");
  expect(server.logs.some((l) => l.includes(code) || l.includes(SECRET))).toBe(false);
});

it("a 5xx answer is retried with the same message id until it succeeds", async () => {
  const phone = "+41790000503";
  const { userId } = await addUser(server.url, server.adminToken, { phone });
  await resetPassword(server.url, server.adminToken, userId, sms);
  await waitUntil(async () => eventsOfType(await events(userId), UserEvents.passwordCodeSent).length === 1, "code.sent");
  expect(hooksTo(phone).map((h) => [h.status, h.body.messageId])).toEqual([
    [503, `${userId}.2.default@localhost`],
    [200, `${userId}.2.default@localhost`],
  ]);
});

it("a 4xx answer fails the message at once", async () => {
  const phone = "+41790000400";
  const { userId } = await addUser(server.url, server.adminToken, { phone });
  await resetPassword(server.url, server.adminToken, userId, sms);
  const [failed] = await waitUntil(async () => {
    const found = eventsOfType(await events(userId), UserEvents.notificationFailed);
    return found.length > 0 && found;
  }, "notification.failed");
  expect(failed!.payload).toMatchObject({ channel: "sms", attempts: 1, reason: "sms webhook answered 400" });
  expect(hooksTo(phone)).toHaveLength(1);
});

it("a user without a phone gets a recorded failure, not a crash", async () => {
  const { userId } = await addUser(server.url, server.adminToken);
  await resetPassword(server.url, server.adminToken, userId, sms);
  const [failed] = await waitUntil(async () => {
    const found = eventsOfType(await events(userId), UserEvents.notificationFailed);
    return found.length > 0 && found;
  }, "notification.failed");
  expect(failed!.payload).toMatchObject({ triggerSequence: 2, channel: "sms", reason: "user has no phone number", attempts: 0 });
  expect(hooks.filter((h) => h.body.messageId.startsWith(userId))).toEqual([]);
});
