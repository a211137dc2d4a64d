import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { startCliServer, type CliServer } from "./support/cli.js";
import { addUser, freePort, waitUntil } from "./support/notification.js";
import { tempDir } from "./support/server.js";

// Only on SQLite: several processes on one file is what --workers adds there.
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

describe("latchkey start --workers 2", () => {
  it("serves one port from two processes that share the SQLite file, and replaces a worker that dies", async () => {
    const metricsPort = await freePort();
    server = await startCliServer(["--data-dir", dir, "--workers", "2", "--rate-limit-reset-token", "off", "--metrics-port", String(metricsPort)], { LATCHKEY_LOG_LEVEL: "info" });
    const token = fs.readFileSync(path.join(dir, "admin.pat"), "utf8").trim();
    const users = await Promise.all([1, 2, 3, 4].map((i) => addUser(server!.url, token, { email: `w${i}@example.com` })));

    // 4 users x 25 concurrent resets, spread over new connections
    const sequences = await Promise.all(users.flatMap(({ userId }) => Array.from({ length: 25 }, () => reset(server!.url, token, userId).then((seq) => ({ userId, seq })))));
    for (const { userId } of users) {
      const seen = sequences.filter((s) => s.userId === userId).map((s) => s.seq).sort((a, b) => a - b);
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 2));
    }
    const served = (worker: number) => linesOf(server!, new RegExp(`"worker":${worker},.*"method":"zitadel.user.v2.UserService/PasswordReset"`)).length;
    expect(served(0) + served(1)).toBe(100);
    expect(served(0)).toBeGreaterThan(0);
    expect(served(1)).toBeGreaterThan(0);

    // one /metrics for the cluster, with the sum of both workers' calls
    const scrape = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const resets = /^latchkey_requests_total\{[^}]*method="zitadel.user.v2.UserService\/PasswordReset"[^}]*code="OK"[^}]*\} (\d+)$/m.exec(scrape);
    expect(Number(resets?.[1])).toBe(100);

    // exactly one notifier: only worker 0 reports its status
    expect(linesOf(server, /"notifier: status"/).every((l) => l.includes('"worker":0'))).toBe(true);

    // a worker killed outright is replaced, and the port keeps answering meanwhile
    const pids = new Set(linesOf(server, /"worker".*"latchkey listening"/).map((l) => (JSON.parse(l) as { pid: number }).pid));
    expect(pids.size).toBe(2);
    const victim = [...pids][1]!;
    process.kill(victim, "SIGKILL");
    const before = linesOf(server, /"worker".*"latchkey listening"/).length;
    await waitUntil(() => linesOf(server!, /"worker".*"latchkey listening"/).length > before, "a new worker");
    expect(await reset(server.url, token, users[0]!.userId)).toBe(27);

    const db = new Database(path.join(dir, "latchkey.db"), { readonly: true });
    const events = db.prepare("SELECT count(*) FROM events WHERE event_type = 'user.human.password.code.added'").pluck().get();
    db.close();
    expect(events).toBe(101);

    expect(await server.stop()).toBe(0);
    server = undefined;
  });
});
