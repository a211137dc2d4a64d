/** With no provider configured, messages become files in <data-dir>/outbox; operators may replace templates. */
import fs from "node:fs";
import path from "node:path";
import { NotificationType } from "@zitadel/proto/zitadel/user/v2/password_pb.js";
import PostalMime from "postal-mime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, realCode, resetPassword, waitUntil } from "./support/notification.js";
import { startTestServer, tempDir, useTestServer, type TestServer } from "./support/server.js";

const server = useTestServer({ config: { notifyPollMs: 20 } });

const sentLine = (userId: string) =>
  server.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "notifier: message sent" && l.userId === userId);

describe("the default outbox", () => {
  it("holds a readable .eml with the working link, and the log says where", async () => {
    const { userId, orgId } = await addUser(server.url, server.adminToken, { email: "ada@example.com" });
    await resetPassword(server.url, server.adminToken, userId);
    const line = await waitUntil(() => sentLine(userId), "the sent log line");

    const file = path.join(server.dataDir, "outbox", `${userId}.2.default@localhost.eml`);
    expect(line).toMatchObject({ file, provider: `outbox ${path.join(server.dataDir, "outbox")}` });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const email = await PostalMime.parse(fs.readFileSync(file));
    const code = realCode(server.dataDir, await server.server.app.store.readAggregate({ type: "user", id: userId }), 2);
    expect(email.subject).toBe("Reset password");
    expect(email.to?.[0]?.address).toBe("ada@example.com");
    expect(email.from?.address).toBe("noreply@localhost");
    expect(email.messageId).toBe(`<${userId}.2.default@localhost>`);
    expect(email.text).toContain(`http://localhost:8080/ui/login/password/init?userID=${userId}&code=${code}&orgID=${orgId}`);
    expect(email.html).toContain("Reset password</a>");
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith(userId))).toEqual([path.basename(file)]);
  });

  it("holds an SMS as .json", async () => {
    const { userId } = await addUser(server.url, server.adminToken, { phone: "+41791112233" });
    await resetPassword(server.url, server.adminToken, userId, { medium: { case: "sendLink", value: { notificationType: NotificationType.SMS } } });
    const line = await waitUntil(() => sentLine(userId), "the sent log line");
    expect(line.file).toBe(path.join(server.dataDir, "outbox", `${userId}.2.default@localhost.json`));
    const sms = JSON.parse(fs.readFileSync(line.file, "utf8"));
    expect(sms).toMatchObject({ messageId: `${userId}.2.default@localhost`, to: "+41791112233" });
    expect(sms.text).toMatch(/^Your password reset code is [A-Z0-9]{6}\. /);
  });
});

describe("an operator template directory", () => {
  let custom: TestServer;
  const templatesDir = tempDir("latchkey-templates-");

  beforeAll(async () => {
    fs.mkdirSync(path.join(templatesDir, "lang"));
    fs.writeFileSync(path.join(templatesDir, "subject.hbs"), "[Acme] {{subject}}\n");
    fs.writeFileSync(path.join(templatesDir, "lang", "fr.txt"), "passwordReset.subject = Réinitialiser le mot de passe\npasswordReset.greeting = Bonjour {{givenName}},\n");
    custom = await startTestServer({ config: { notifyPollMs: 20, templatesDir } });
  });

  afterAll(async () => {
    await custom.close();
    fs.rmSync(templatesDir, { recursive: true, force: true });
  });

  it("replaces a layout, adds a language and keeps the built-in texts it does not name", async () => {
    const { userId } = await addUser(custom.url, custom.adminToken, { email: "amelie@example.com", givenName: "Amélie", preferredLanguage: "fr" });
    await resetPassword(custom.url, custom.adminToken, userId);
    const file = path.join(custom.dataDir, "outbox", `${userId}.2.default@localhost.eml`);
    await waitUntil(() => fs.existsSync(file), "the .eml");
    const email = await PostalMime.parse(fs.readFileSync(file));
    expect(email.subject).toBe("[Acme] Réinitialiser le mot de passe");
    expect(email.text).toContain("Bonjour Amélie,");
    expect(email.text).toContain("We received a password reset request.");
  });
});
