/** Reset messages through a real SMTP server with STARTTLS and a login. */
import { NotificationType } from "@zitadel/proto/zitadel/user/v2/password_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserEvents } from "../src/command/user/events.js";
import { addUser, eventsOfType, realCode, resetPassword, startSmtpServer, waitUntil, type TestSmtpServer } from "./support/notification.js";
import { startTestServer, type TestServer } from "./support/server.js";

const SMTP_USER = "mailer";
const SMTP_PASS = "smtp-Pa55/word!";
const CODE = /^[A-Z0-9]{6}$/;

let smtp: TestSmtpServer;
let server: TestServer;
let closed = false;
const codes: string[] = [];

beforeAll(async () => {
  smtp = await startSmtpServer({
    auth: { user: SMTP_USER, pass: SMTP_PASS },
    rejectRecipient: (address) => (address.startsWith("bounce") ? 550 : address.startsWith("greylisted") ? 451 : undefined),
  });
  server = await startTestServer({
    config: {
      smtpUrl: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASS)}@127.0.0.1:${smtp.port}?tls.rejectUnauthorized=false`,
      smtpFrom: "Latchkey <reset@example.com>",
      notifyPollMs: 20,
      notifyRetryDelayMs: 20,
      notifyMaxAttempts: 3,
    },
  });
});

afterAll(async () => {
  if (!closed) await server.close();
  await smtp.close();
});

const events = (userId: string) => server.server.app.store.readAggregate({ type: "user", id: userId });
const mailTo = (address: string) => smtp.received.filter((m) => m.recipients.includes(address));
const notifierLines = (msg: string, userId: string) =>
  server.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === msg && l.userId === userId);
const waitForMail = (address: string) => waitUntil(() => mailTo(address)[0], `mail to ${address}`);

describe("a reset without medium", () => {
  it("sends the English email with the default link and the real code, over STARTTLS with login", async () => {
    const email = "ada@example.com";
    const { userId, orgId } = await addUser(server.url, server.adminToken, { email });
    await resetPassword(server.url, server.adminToken, userId);
    const mail = await waitForMail(email);

    const code = realCode(server.dataDir, await events(userId), 2);
    codes.push(code);
    expect(code).toMatch(CODE);
    const link = `http://localhost:8080/ui/login/password/init?userID=${userId}&code=${code}&orgID=${orgId}`;
    expect(mail.email.subject).toBe("Reset password");
    expect(mail.email.from).toMatchObject({ address: "reset@example.com", name: "Latchkey" });
    expect(mail.email.messageId).toBe(`<${userId}.2.default@localhost>`);
    expect(mail.email.text).toContain("Hello Ada Lovelace,");
    expect(mail.email.text).toContain(`(Code ${code})`);
    expect(mail.email.text).toContain(`Reset password: ${link}`);
    expect(mail.email.html).toContain(`href="${link.replace(/&/g, "&amp;").replace(/=/g, "&#x3D;")}"`);
    expect(mail.email.html).toContain(">Reset password</a>");
    expect(mail).toMatchObject({ secure: true, user: SMTP_USER });

    await waitUntil(async () => eventsOfType(await events(userId), UserEvents.passwordCodeSent).length === 1, "code.sent");
    const [sent] = eventsOfType(await events(userId), UserEvents.passwordCodeSent);
    expect(sent).toMatchObject({ sequence: 3, editor: "notification", payload: { triggerSequence: 2, messageId: `${userId}.2.default@localhost` } });
    expect(mailTo(email)).toHaveLength(1);
  });
});

describe("send_link with a URL template", () => {
  it("links to the rendered template, in German for a German user", async () => {
    const email = "grete@example.com";
    const { userId, orgId } = await addUser(server.url, server.adminToken, { email, givenName: "Grete", familyName: "Müller", preferredLanguage: "de" });
    const urlTemplate = "https://app.example.com/reset?user={{.UserID}}&code={{.Code}}&org=<<.OrgID>>";
    await resetPassword(server.url, server.adminToken, userId, {
      medium: { case: "sendLink", value: { notificationType: NotificationType.Email, urlTemplate } },
    });
    const mail = await waitForMail(email);

    const code = realCode(server.dataDir, await events(userId), 2);
    codes.push(code);
    const link = `https://app.example.com/reset?user=${userId}&code=${code}&org=${orgId}`;
    expect(mail.email.subject).toBe("Passwort zurücksetzen");
    expect(mail.email.text).toContain("Hallo Grete Müller,");
    expect(mail.email.text).toContain(`Passwort zurücksetzen: ${link}`);
    expect(mail.email.html).toContain('<html lang="de">');
    expect(mail.email.html).toContain(`>${link.replace(/&/g, "&amp;").replace(/=/g, "&#x3D;")}</p>`);
  });
});

describe("what is not sent", () => {
  it("return_code sends nothing, while the next reset goes out", async () => {
    const quiet = "quiet@example.com";
    const loud = "loud@example.com";
    const q = await addUser(server.url, server.adminToken, { email: quiet });
    const l = await addUser(server.url, server.adminToken, { email: loud });
    await resetPassword(server.url, server.adminToken, q.userId, { medium: { case: "returnCode", value: {} } });
    await resetPassword(server.url, server.adminToken, l.userId);
    await waitForMail(loud);
    await waitUntil(async () => eventsOfType(await events(l.userId), UserEvents.passwordCodeSent).length === 1, "code.sent");

    expect(mailTo(quiet)).toEqual([]);
    expect((await events(q.userId)).map((e) => e.type)).toEqual([UserEvents.humanAdded, UserEvents.passwordCodeAdded]);
    expect(server.logs.filter((line) => line.includes(q.userId) && line.includes("notifier"))).toEqual([]);
  });
});

describe("a password change", () => {
  it("sends the notice once", async () => {
    const email = "changed@example.com";
    const { userId, orgId } = await addUser(server.url, server.adminToken, { email });
    await server.server.app.store.append([
      {
        aggregate: { type: "user", id: userId },
        resourceOwner: orgId,
        expectedSequence: 1,
        events: [{ type: UserEvents.passwordChanged, payload: { passwordHash: "$argon2id$test", changeRequired: false }, editor: userId }],
      },
    ]);
    const mail = await waitForMail(email);
    expect(mail.email.subject).toBe("Password of user has changed");
    expect(mail.email.text).toContain("The password of your user has changed.");
    expect(mail.email.text).not.toContain("http");
    expect(mail.email.html).not.toContain("<a ");
    expect(mail.email.messageId).toBe(`<${userId}.2.default@localhost>`);
    await waitUntil(async () => eventsOfType(await events(userId), UserEvents.passwordChangeSent).length === 1, "change.sent");
    expect(mailTo(email)).toHaveLength(1);
  });
});

describe("failures", () => {
  it("a rejected address (550) is recorded as failed at once, and later messages still go out", async () => {
    const bounce = await addUser(server.url, server.adminToken, { email: "bounce@example.com" });
    const fine = await addUser(server.url, server.adminToken, { email: "fine@example.com" });
    await resetPassword(server.url, server.adminToken, bounce.userId);
    await resetPassword(server.url, server.adminToken, fine.userId);

    await waitForMail("fine@example.com");
    const [failed] = await waitUntil(async () => {
      const found = eventsOfType(await events(bounce.userId), UserEvents.notificationFailed);
      return found.length > 0 && found;
    }, "notification.failed");
    expect(failed!.payload).toMatchObject({ triggerSequence: 2, channel: "email", attempts: 1, messageId: `${bounce.userId}.2.default@localhost` });
    expect(failed!.payload.reason).toMatch(/550/);
    expect(mailTo("bounce@example.com")).toEqual([]);
    // the notifier thread's line follows the event it recorded
    const logged = await waitUntil(() => notifierLines("notifier: message failed", bounce.userId)[0], "the failed log line");
    expect(logged).toMatchObject({ level: 50, permanent: true, channel: "email" });
  });

  it("a temporarily refused address (451) is retried without holding up others, then failed after the last attempt", async () => {
    const grey = await addUser(server.url, server.adminToken, { email: "greylisted@example.com" });
    await resetPassword(server.url, server.adminToken, grey.userId);
    const others = await Promise.all(["one@example.com", "two@example.com"].map((email) => addUser(server.url, server.adminToken, { email })));
    for (const other of others) await resetPassword(server.url, server.adminToken, other.userId);
    await waitForMail("one@example.com");
    await waitForMail("two@example.com");

    const [failed] = await waitUntil(async () => {
      const found = eventsOfType(await events(grey.userId), UserEvents.notificationFailed);
      return found.length > 0 && found;
    }, "notification.failed after retries");
    expect(failed!.payload).toMatchObject({ attempts: 3, channel: "email" });
    expect(failed!.payload.reason).toMatch(/451/);
    const retries = notifierLines("notifier: delivery failed, will retry", grey.userId);
    expect(retries.map((l) => l.attempt)).toEqual([1, 2]);
    expect(retries.every((l) => l.retryInMs >= 10 && l.retryInMs <= 40 * l.attempt)).toBe(true);
  });
});

describe("logs", () => {
  it("show where the notifier stands: providers at start, then counts and lag", async () => {
    await server.close();
    closed = true;
    const lines = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const started = lines.find((l) => l.msg === "notifier: started");
    expect(started).toMatchObject({ email: `smtp smtp://127.0.0.1:${smtp.port}`, sms: expect.stringMatching(/^outbox /), pending: 0 });
    const status = lines.find((l) => l.msg === "notifier: status");
    expect(status).toMatchObject({ checkpoint: expect.any(Number), head: expect.any(Number), lag: expect.any(Number), pending: expect.any(Number) });
    const stopped = lines.find((l) => l.msg === "notifier: stopped");
    expect(stopped).toMatchObject({ sent: 7, failed: 2, skipped: 0, pending: 0 });
  });

  it("never carry a code or the SMTP password", () => {
    expect(codes.length).toBeGreaterThanOrEqual(2);
    const secrets = [...codes, SMTP_PASS, encodeURIComponent(SMTP_PASS)];
    for (const line of server.logs) {
      for (const secret of secrets) expect(line).not.toContain(secret);
    }
  });
});
