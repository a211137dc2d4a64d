/**
 * The `latchkey` binary killed with SIGKILL while its messages hang on the
 * SMTP server: after a restart each pending message goes out exactly once.
 * Needs `npm run build`.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { startCliServer, type CliServer } from "./support/cli.js";
import { addUser, freePort, resetPassword, startSmtpServer, waitUntil, type TestSmtpServer } from "./support/notification.js";
import { tempDir } from "./support/server.js";

const dataDir = tempDir("latchkey-restart-");
const running: CliServer[] = [];
const smtpServers: TestSmtpServer[] = [];

afterAll(async () => {
  for (const cli of running) if (cli.process.exitCode === null && cli.process.signalCode === null) await cli.stop();
  for (const smtp of smtpServers) await smtp.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Reads the data directory's database beside the running server. */
function query<T>(sql: string): T {
  const db = new Database(path.join(dataDir, "latchkey.db"), { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as T;
  } finally {
    db.close();
  }
}

async function start(port: number): Promise<CliServer> {
  const cli = await startCliServer(["--data-dir", dataDir], {
    LATCHKEY_SMTP_URL: `smtp://127.0.0.1:${port}?tls.rejectUnauthorized=false`,
    LATCHKEY_NOTIFY_POLL_INTERVAL: "20",
    LATCHKEY_NOTIFY_RETRY_DELAY: "20",
  });
  running.push(cli);
  return cli;
}

it("delivers every pending message exactly once per Message-ID after a SIGKILL", async () => {
  const port = await freePort();
  const hung = await startSmtpServer({ port, stall: true });
  smtpServers.push(hung);
  const first = await start(port);
  const token = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim();

  const users: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { userId } = await addUser(first.url, token, { email: `user${i}@example.com` });
    await resetPassword(first.url, token, userId);
    users.push(userId);
  }
  // all five are pending and at least one is on the wire when the process dies
  await waitUntil(() => query<number>("SELECT count(*) FROM notification_jobs") === 5 && hung.connections > 0, "pending deliveries");
  expect(await first.stop("SIGKILL")).toBeNull();
  expect(query<number>("SELECT count(*) FROM events WHERE event_type = 'user.human.password.code.sent'")).toBe(0);

  await hung.close();
  const smtp = await startSmtpServer({ port });
  smtpServers.push(smtp);
  const second = await start(port);
  await waitUntil(() => smtp.received.length >= 5, "five mails");
  await waitUntil(() => query<number>("SELECT count(*) FROM notification_jobs") === 0, "no pending job");
  await second.stop();

  const started = second.stdout.map((l) => JSON.parse(l)).find((l) => l.msg === "notifier: started");
  expect(started.pending).toBe(5);

  // a third start finds nothing left to send
  const third = await start(port);
  await waitUntil(() => third.stdout.some((l) => l.includes('"notifier: status"')), "a status line");
  await third.stop();

  const ids = smtp.received.map((m) => m.email.messageId).sort();
  expect(ids).toEqual(users.map((u) => `<${u}.2.default@localhost>`).sort());
  expect(query<number>("SELECT count(*) FROM events WHERE event_type = 'user.human.password.code.sent'")).toBe(5);
  expect(query<number>("SELECT count(*) FROM events WHERE event_type = 'user.human.notification.failed'")).toBe(0);
});
