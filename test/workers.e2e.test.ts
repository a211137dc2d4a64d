import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { startCliServer, type CliServer } from "./support/cli.js";
import { addUser, freePort, waitUntil } from "./support/notification.js";
import { tempDir } from "./support/server.js";

// On SQLite: the serving threads append through the main thread's one writer.
const dir = tempDir("latchkey-workers-");
let server: CliServer | undefined;

afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function reset(url: string, token: string, userId: string): Promise<number> {
  const res = await fetch(`${url}/zitadel.user.v2.UserService/PasswordReset`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ userId, returnCode: {} }),
  });
  const body = (await res.json()) as { details?: { sequence: string }; message?: string };
  if (res.status !== 200) throw new Error(`${res.status} ${body.message}`);
  return Number(body.details!.sequence);
}

const linesOf = (s: CliServer, pattern: RegExp) => s.stdout.filter((l) => pattern.test(l));

async function anonymousSetPassword(url: string, userId: string): Promise<number> {
  const res = await fetch(`${url}/zitadel.user.v2.UserService/SetPassword`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId, newPassword: { password: "Another-Secret-1!" }, verificationCode: "WRONGCODE" }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe("latchkey start --workers 2", () => {
  it("serves one port from two threads that share the writer, the rate limits, the notifier and /metrics", async () => {
    const metricsPort = await freePort();
    server = await startCliServer(
      ["--data-dir", dir, "--workers", "2", "--rate-limit-reset-token", "off", "--rate-limit-anonymous-ip", "20/m", "--metrics-port", String(metricsPort)],
      { LATCHKEY_LOG_LEVEL: "info" },
    );
    const token = fs.readFileSync(path.join(dir, "admin.pat"), "utf8").trim();
    const users = await Promise.all([1, 2, 3, 4].map((i) => addUser(server!.url, token, { email: `w${i}@example.com` })));

    // 4 users x 25 concurrent resets, spread over new connections
    const sequences = await Promise.all(users.flatMap(({ userId }) => Array.from({ length: 25 }, () => reset(server!.url, token, userId).then((seq) => ({ userId, seq })))));
    for (const { userId } of users) {
      const seen = sequences.filter((s) => s.userId === userId).map((s) => s.seq).sort((a, b) => a - b);
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 2));
    }
    const served = (worker: number, method: string) => linesOf(server!, new RegExp(`"worker":${worker},.*"method":"zitadel.user.v2.UserService/${method}"`)).length;
    // a serving thread's lines reach the log through the main thread, possibly after the answer
    await waitUntil(() => served(0, "PasswordReset") + served(1, "PasswordReset") >= 100, "every reset's log line");
    expect(served(0, "PasswordReset") + served(1, "PasswordReset")).toBe(100);
    expect(served(0, "PasswordReset")).toBeGreaterThan(0);
    expect(served(1, "PasswordReset")).toBeGreaterThan(0);

    // one counter per limit for the process: 80 anonymous calls from one address, on both threads, and 20 get through
    const statuses = await Promise.all(Array.from({ length: 80 }, () => anonymousSetPassword(server!.url, users[3]!.userId)));
    expect(statuses.filter((s) => s !== 429)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60);
    await waitUntil(() => served(0, "SetPassword") + served(1, "SetPassword") >= 80, "every SetPassword's log line");
    expect(served(0, "SetPassword")).toBeGreaterThan(0);
    expect(served(1, "SetPassword")).toBeGreaterThan(0);

    // one /metrics, with the sum of both threads' calls and the main thread's count of refusals
    const resetsIn = (text: string) => Number(/^latchkey_requests_total\{[^}]*method="zitadel.user.v2.UserService\/PasswordReset"[^}]*code="OK"[^}]*\} (\d+)$/m.exec(text)?.[1]);
    let scrape = "";
    // a call is counted when it ends, which may be just after its answer left
    await waitUntil(async () => resetsIn((scrape = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())) >= 100, "every reset counted");
    expect(resetsIn(scrape)).toBe(100);
    const refused = /^latchkey_rate_limit_rejections_total\{[^}]*limit="anonymous_ip"[^}]*\} (\d+)$/m.exec(scrape);
    expect(Number(refused?.[1])).toBe(60);
    expect(scrape.match(/^process_cpu_seconds_total /gm)).toHaveLength(1);

    // exactly one notifier, in the main thread
    expect(linesOf(server, /"notifier: status"/).length).toBeGreaterThan(0);
    expect(linesOf(server, /"notifier: status"/).every((l) => l.includes('"worker":0'))).toBe(true);

    const db = new Database(path.join(dir, "latchkey.db"), { readonly: true });
    const events = db.prepare("SELECT count(*) FROM events WHERE event_type = 'user.human.password.code.added'").pluck().get();
    db.close();
    expect(events).toBe(100);

    expect(await server.stop()).toBe(0);
    server = undefined;
  });
});
