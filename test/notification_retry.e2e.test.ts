/** Delivery while the SMTP server is down: retried until it is up, unless the code expired meanwhile. */
import { afterEach, expect, it } from "vitest";
import { UserEvents } from "../src/command/user/events.js";
import { addUser, eventsOfType, freePort, resetPassword, startSmtpServer, waitUntil, type TestSmtpServer } from "./support/notification.js";
import { startTestServer, type TestServer } from "./support/server.js";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function serverWithSmtpOn(port: number, clock?: () => Date): Promise<TestServer> {
  const server = await startTestServer({
    config: { smtpUrl: `smtp://127.0.0.1:${port}?tls.rejectUnauthorized=false`, notifyPollMs: 20, notifyRetryDelayMs: 20, notifyMaxAttempts: 20 },
    ...(clock && { clock }),
  });
  cleanup.push(() => server.close());
  return server;
}

async function smtpOn(port: number): Promise<TestSmtpServer> {
  const smtp = await startSmtpServer({ port });
  cleanup.push(() => smtp.close());
  return smtp;
}

const logLines = (server: TestServer, msg: string, userId: string) =>
  server.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === msg && l.userId === userId);

it("a message is retried while the SMTP server is down and arrives once it is up", async () => {
  const port = await freePort();
  const server = await serverWithSmtpOn(port);
  const { userId } = await addUser(server.url, server.adminToken, { email: "patient@example.com" });
  await resetPassword(server.url, server.adminToken, userId);

  const retries = await waitUntil(() => {
    const lines = logLines(server, "notifier: delivery failed, will retry", userId);
    return lines.length >= 2 && lines;
  }, "two failed attempts");
  expect(retries[0].reason).toMatch(/ECONNREFUSED/);

  const smtp = await smtpOn(port);
  const mail = await waitUntil(() => smtp.received[0], "the mail");
  expect(mail.recipients).toEqual(["patient@example.com"]);
  expect(mail.email.messageId).toBe(`<${userId}.2.default@localhost>`);

  const events = () => server.server.app.store.readAggregate({ type: "user", id: userId });
  await waitUntil(async () => eventsOfType(await events(), UserEvents.passwordCodeSent).length === 1, "code.sent");
  // the line comes from the notifier's thread, a moment after the event
  const [sent] = await waitUntil(() => {
    const lines = logLines(server, "notifier: message sent", userId);
    return lines.length > 0 && lines;
  }, "the line of the sent message");
  expect(sent.attempt).toBeGreaterThanOrEqual(3);
  expect(smtp.received).toHaveLength(1);
  expect(eventsOfType(await events(), UserEvents.notificationFailed)).toEqual([]);
});

it("a code that expires before the server is reachable is skipped, not sent late", async () => {
  let now = new Date("2026-03-01T09:00:00Z");
  const port = await freePort();
  const server = await serverWithSmtpOn(port, () => now);
  const late = await addUser(server.url, server.adminToken, { email: "late@example.com" });
  await resetPassword(server.url, server.adminToken, late.userId);
  await waitUntil(() => logLines(server, "notifier: delivery failed, will retry", late.userId).length >= 1, "a failed attempt");

  // the code lives an hour; the next attempt happens two hours later
  now = new Date(now.getTime() + 2 * 3600_000);
  const smtp = await smtpOn(port);
  const fresh = await addUser(server.url, server.adminToken, { email: "fresh@example.com" });
  await resetPassword(server.url, server.adminToken, fresh.userId);

  await waitUntil(() => smtp.received.find((m) => m.recipients.includes("fresh@example.com")), "the fresh code's mail");
  const [skipped] = await waitUntil(() => {
    const lines = logLines(server, "notifier: message skipped", late.userId);
    return lines.length > 0 && lines;
  }, "the expired code skipped");
  expect(skipped.reason).toBe("code expired");
  expect(smtp.received.filter((m) => m.recipients.includes("late@example.com"))).toEqual([]);
  const events = await server.server.app.store.readAggregate({ type: "user", id: late.userId });
  expect(eventsOfType(events, UserEvents.passwordCodeSent)).toEqual([]);
});
