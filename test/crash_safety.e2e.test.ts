/**
 * Crash safety under load: the `latchkey` binary on one data directory is
 * killed with SIGKILL at random moments while several clients (every
 * protocol) reset passwords, then started again on the same directory.
 * Afterwards every acknowledged call is in the event store, the store holds
 * no torn or duplicated event, and the notifier, once settled, has delivered
 * every message the events still promise, with the same Message-ID when a
 * crash made it deliver one twice. Needs `npm run build`.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { CodeCipher } from "../src/crypto/code_cipher.js";
import { loadOrCreateEncryptionKey } from "../src/eventstore/data_dir.js";
import { startCliServer, type CliServer } from "./support/cli.js";
import { allClients, type TestClient } from "./support/clients.js";
import { addUser, startSmtpServer, waitUntil, type TestSmtpServer } from "./support/notification.js";
import { tempDir } from "./support/server.js";

const ROUNDS = 5;
const USERS = 40;
const WORKERS_PER_CLIENT = 2;
const DOMAIN = "crash.test";

const CODE_ADDED = "user.human.password.code.added";
const CODE_SENT = "user.human.password.code.sent";
const CHANGED = "user.human.password.changed";
const CHANGE_SENT = "user.human.password.change.sent";
const FAILED = "user.human.notification.failed";
/** after these every earlier code is void, so its message may be skipped (src/notification/fold.ts) */
const CODE_ENDINGS = new Set([CODE_ADDED, CHANGED, "user.human.password.code.invalidated"]);

const dataDir = tempDir("latchkey-crash-");
const processes: CliServer[] = [];
let smtp: TestSmtpServer | undefined;

afterAll(async () => {
  for (const p of processes) if (p.process.exitCode === null && p.process.signalCode === null) await p.stop("SIGKILL");
  await smtp?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

type Kind = "returnCode" | "sendLink" | "default" | "setPassword";

interface Ack {
  kind: Kind;
  userId: string;
  sequence: number;
  generation: number;
  code?: string;
}

interface EventRow {
  position: number;
  instance_id: string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  event_type: string;
  payload: string;
}

interface Generation {
  server: CliServer;
  clients: TestClient[];
  killed: boolean;
  /** index into smtp.received of the first message that arrived while this process ran */
  firstMail: number;
}

function openReadOnly(): Database.Database {
  return new Database(path.join(dataDir, "latchkey.db"), { readonly: true });
}

function scalar<T>(sql: string): T {
  const db = openReadOnly();
  try {
    return db.prepare(sql).pluck().get() as T;
  } finally {
    db.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LoadRun {
  generations: Generation[];
  users: Array<{ userId: string; email: string }>;
  acks: Ack[];
  attempts: { calls: number; cutOff: number };
  unexpected: string[];
}

/** Starts the binary, adds the users, runs the load through ROUNDS SIGKILLs and restarts, then lets the last process settle and stops it. */
async function loadThroughKills(): Promise<LoadRun> {
  smtp = await startSmtpServer();
  const env = {
    LATCHKEY_SMTP_URL: `smtp://127.0.0.1:${smtp.port}?tls.rejectUnauthorized=false`,
    LATCHKEY_EXTERNAL_URL: `http://${DOMAIN}`,
    LATCHKEY_NOTIFY_POLL_INTERVAL: "20",
    LATCHKEY_NOTIFY_RETRY_DELAY: "20",
    LATCHKEY_RATE_LIMIT_RESET_USER: "100000/h",
    LATCHKEY_RATE_LIMIT_RESET_TOKEN: "100000/m",
    // every SetPassword of the load comes from loopback without a token
    LATCHKEY_RATE_LIMIT_ANONYMOUS_IP: "off",
    LATCHKEY_ARGON2_MEMORY: "1024",
    LATCHKEY_ARGON2_ITERATIONS: "1",
    LATCHKEY_LOG_LEVEL: "info",
  };

  const generations: Generation[] = [];
  let current: Generation | undefined;
  async function boot(): Promise<Generation> {
    // messages still being parsed by the SMTP server belong to the process before
    await sleep(100);
    const firstMail = smtp!.received.length;
    const server = await startCliServer(["--data-dir", dataDir], env);
    processes.push(server);
    const generation = { server, clients: allClients(server.url), killed: false, firstMail };
    generations.push(generation);
    current = generation;
    return generation;
  }

  const first = await boot();
  const token = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim();
  const users: Array<{ userId: string; email: string }> = [];
  for (let i = 0; i < USERS; i++) {
    const email = `crash${i}@example.com`;
    users.push({ userId: (await addUser(first.server.url, token, { email })).userId, email });
  }

  const acks: Ack[] = [];
  const attempts = { calls: 0, cutOff: 0 };
  const unexpected: string[] = [];
  let stopLoad = false;

  /** One call; failures of a call to a process that was killed are the crash's, anything else is recorded. */
  async function call(
    worker: number,
    kind: Kind,
    userId: string,
    run: (client: TestClient) => ReturnType<TestClient["call"]>,
    allowed: (code: Code, id?: string) => boolean = () => false,
  ): Promise<Awaited<ReturnType<TestClient["call"]>> | undefined> {
    const generation = current;
    if (!generation) return undefined;
    const index = generations.indexOf(generation);
    attempts.calls++;
    const out = await run(generation.clients[worker % generation.clients.length]!);
    if (out.ok) return out;
    if (generation.killed) {
      attempts.cutOff++;
    } else if (!allowed(out.code, out.id)) {
      unexpected.push(`${kind} ${userId} in generation ${index}: ${Code[out.code]} ${out.message}`);
    }
    return undefined;
  }

  async function worker(n: number): Promise<void> {
    while (!stopLoad) {
      if (!current) {
        await sleep(10);
        continue;
      }
      const generation = generations.indexOf(current);
      const { userId } = users[Math.floor(Math.random() * users.length)]!;
      const roll = Math.random();
      if (roll < 0.35) {
        const out = await call(n, "returnCode", userId, (c) => c.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, token));
        if (!out?.ok) continue;
        const value = out.value as { details?: { sequence: bigint }; verificationCode?: string };
        acks.push({ kind: "returnCode", userId, sequence: Number(value.details!.sequence), generation, code: value.verificationCode! });
        if (roll < 0.1) {
          // complete it; another worker's reset of the same user may have replaced the code meanwhile
          const code = value.verificationCode!;
          const set = await call(
            n,
            "setPassword",
            userId,
            (c) => c.call("setPassword", { userId, newPassword: { password: "Crash-Safe-1!" }, verification: { case: "verificationCode", value: code } }),
            (status, id) => (status === Code.InvalidArgument && id === "CODE-woT0xc") || (status === Code.FailedPrecondition && (id === "COMMAND-2M9fs" || id === "CODE-Tm4tA")),
          );
          if (set?.ok) {
            const details = (set.value as { details?: { sequence: bigint } }).details!;
            acks.push({ kind: "setPassword", userId, sequence: Number(details.sequence), generation });
          }
        }
      } else if (roll < 0.7) {
        const medium = {
          case: "sendLink" as const,
          value: { notificationType: 1, urlTemplate: `https://app.${DOMAIN}/reset?user={{.UserID}}&code={{.Code}}&org={{.OrgID}}` },
        };
        const out = await call(n, "sendLink", userId, (c) => c.call("passwordReset", { userId, medium }, token));
        if (out?.ok) acks.push({ kind: "sendLink", userId, sequence: Number((out.value as { details?: { sequence: bigint } }).details!.sequence), generation });
      } else {
        const out = await call(n, "default", userId, (c) => c.call("passwordReset", { userId }, token));
        if (out?.ok) acks.push({ kind: "default", userId, sequence: Number((out.value as { details?: { sequence: bigint } }).details!.sequence), generation });
      }
    }
  }

  const load = Promise.all(Array.from({ length: 4 * WORKERS_PER_CLIENT }, (_, n) => worker(n)));
  for (let round = 1; round <= ROUNDS; round++) {
    const generation = current!;
    await sleep(400 + Math.random() * 1400);
    generation.killed = true;
    current = undefined;
    expect(await generation.server.stop("SIGKILL")).toBeNull();
    for (const c of generation.clients) c.close();
    await boot();
  }
  // some load on the last process too, then let its notifier settle
  await sleep(800);
  stopLoad = true;
  await load;
  const last = current!;
  await waitUntil(
    () => scalar<number>("SELECT count(*) FROM notification_jobs") === 0 &&
      scalar<number>("SELECT position FROM notification_checkpoints") === scalar<number>("SELECT max(position) FROM events"),
    "the notifier to settle",
    30_000,
  );
  expect(await last.server.stop("SIGTERM")).toBe(0);
  for (const c of last.clients) c.close();

  return { generations, users, acks, attempts, unexpected };
}

describe("crash safety (SQLite data directory)", () => {
  let run: LoadRun;
  let events: EventRow[];
  const byAggregate = new Map<string, EventRow[]>();
  const cipher = () => new CodeCipher([loadOrCreateEncryptionKey(dataDir)]);
  const userEvents = (userId: string) => byAggregate.get(`default/user/${userId}`) ?? [];

  it(`answers every call or loses it to a kill, across ${ROUNDS} SIGKILLs under load`, { timeout: 90_000 }, async () => {
    run = await loadThroughKills();
    expect(run.unexpected).toEqual([]);
    expect(run.acks.length).toBeGreaterThan(0);
  });

  it("keeps the store whole: every event intact, sequences 1..n per aggregate, positions unique", () => {
    // the store: intact, every event whole, sequences 1..n per aggregate, positions unique
    const db = openReadOnly();
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      events = db.prepare("SELECT position, instance_id, aggregate_type, aggregate_id, sequence, event_type, payload FROM events ORDER BY position").all() as EventRow[];
    } finally {
      db.close();
    }
    expect(new Set(events.map((e) => e.position)).size).toBe(events.length);
    for (const e of events) {
      expect(() => JSON.parse(e.payload), `payload at ${e.position}`).not.toThrow();
      const key = `${e.instance_id}/${e.aggregate_type}/${e.aggregate_id}`;
      byAggregate.set(key, [...(byAggregate.get(key) ?? []), e]);
    }
    for (const [key, list] of byAggregate) {
      expect(list.map((e) => e.sequence), key).toEqual(list.map((_, i) => i + 1));
    }

  });

  it("holds every acknowledged call at the sequence its answer named", () => {
    const { acks } = run;
    // every acknowledged call is stored at the sequence its answer named
    for (const ack of acks) {
      const event = userEvents(ack.userId)[ack.sequence - 1];
      const what = `${ack.kind} of ${ack.userId} at ${ack.sequence}`;
      expect(event?.event_type, what).toBe(ack.kind === "setPassword" ? CHANGED : CODE_ADDED);
      if (ack.kind === "setPassword") continue;
      const payload = JSON.parse(event!.payload) as { code: string; codeReturned: boolean; medium: string; urlTemplate?: string };
      expect(payload.codeReturned, what).toBe(ack.kind === "returnCode");
      expect(payload.medium, what).toBe("email");
      expect(payload.urlTemplate !== undefined, what).toBe(ack.kind === "sendLink");
      if (ack.code !== undefined) expect(cipher().decrypt(payload.code), what).toBe(ack.code);
    }

  });

  it("delivers every message the events still promise, at most once per process, and nothing else", () => {
    const { users, generations, acks, attempts } = run;
    // what the events promise: a message per trigger that was neither answered already nor voided since
    const messageId = (userId: string, sequence: number) => `<${userId}.${sequence}.default@${DOMAIN}>`;
    interface Trigger { userId: string; sequence: number; email: string; code?: string; mayBeSkipped: boolean; records: number }
    const triggers = new Map<string, Trigger>();
    let failedRecords = 0;
    for (const { userId, email } of users) {
      const list = userEvents(userId);
      for (const e of list) {
        const payload = JSON.parse(e.payload) as Record<string, unknown>;
        if ((e.event_type === CODE_ADDED && payload.codeReturned === false) || e.event_type === CHANGED) {
          const voided = e.event_type === CODE_ADDED && list.some((later) => later.sequence > e.sequence && CODE_ENDINGS.has(later.event_type));
          triggers.set(messageId(userId, e.sequence), {
            userId,
            sequence: e.sequence,
            email,
            ...(e.event_type === CODE_ADDED && { code: cipher().decrypt(payload.code as string) }),
            mayBeSkipped: voided,
            records: 0,
          });
        }
      }
      for (const e of list) {
        if (e.event_type !== CODE_SENT && e.event_type !== CHANGE_SENT && e.event_type !== FAILED) continue;
        if (e.event_type === FAILED) failedRecords++;
        const trigger = triggers.get(messageId(userId, (JSON.parse(e.payload) as { triggerSequence: number }).triggerSequence));
        expect(trigger, `record at ${userId}/${e.sequence}`).toBeDefined();
        trigger!.records++;
      }
    }
    expect(failedRecords).toBe(0);

    const mails = smtp!.received;
    const copies = new Map<string, number[]>();
    mails.forEach((mail, i) => copies.set(mail.email.messageId!, [...(copies.get(mail.email.messageId!) ?? []), i]));
    const generationOf = (mailIndex: number) => generations.findLastIndex((g) => g.firstMail <= mailIndex);

    for (const [id, trigger] of triggers) {
      const received = copies.get(id) ?? [];
      // one record at most, and every trigger that still counts was recorded as sent
      expect(trigger.records, id).toBeLessThanOrEqual(1);
      if (!trigger.mayBeSkipped) expect(trigger.records, id).toBe(1);
      if (trigger.records === 1) expect(received.length, id).toBeGreaterThanOrEqual(1);
      // a message without a record was sent, the record lost to a kill, and the code voided before the retry
      if (received.length > 0 && trigger.records === 0) expect(trigger.mayBeSkipped, id).toBe(true);
    }
    let duplicates = 0;
    for (const [id, indexes] of copies) {
      const trigger = triggers.get(id);
      expect(trigger, `a message nothing asked for: ${id}`).toBeDefined();
      for (const i of indexes) {
        const mail = mails[i]!;
        expect(mail.recipients, id).toEqual([trigger!.email]);
        if (trigger!.code !== undefined) expect(mail.email.text, id).toContain(trigger!.code);
      }
      // a second copy only after the process that sent the first was killed, never twice from one process
      const sentBy = indexes.map(generationOf);
      expect(new Set(sentBy).size, `${id} sent by ${sentBy.join(", ")}`).toBe(sentBy.length);
      for (const g of sentBy.slice(0, -1)) expect(generations[g]!.killed, `${id} sent again after generation ${g}`).toBe(true);
      duplicates += indexes.length - 1;
    }
    // each kill can repeat at most the deliveries it cut off (8 at a time, src/notification/notifier.ts)
    expect(duplicates).toBeLessThanOrEqual(ROUNDS * 8);

    // each restart's notifier picked up where the killed one was
    const resumed = generations.slice(1).map((g) => {
      const started = g.server.stdout.map((l) => JSON.parse(l) as { msg: string; pending?: number }).find((l) => l.msg === "notifier: started");
      expect(started).toBeDefined();
      return started!.pending ?? 0;
    });

    const kinds = (k: Kind) => acks.filter((a) => a.kind === k).length;
    const skipped = [...triggers].filter(([id]) => !copies.has(id)).length;
    console.log(
      `crash safety: ${ROUNDS} kills, ${attempts.calls} calls (${attempts.cutOff} cut off by a kill), acknowledged ` +
        `${kinds("returnCode")} returnCode, ${kinds("sendLink")} sendLink, ${kinds("default")} default resets and ` +
        `${kinds("setPassword")} SetPassword; ${events.length} events; ${triggers.size} message triggers, ` +
        `${copies.size} Message-IDs received in ${mails.length} messages (${duplicates} repeated after a kill), ` +
        `${skipped} voided codes skipped; messages pending at each restart: ${resumed.join(", ")}`,
    );
    expect(acks.length).toBeGreaterThan(0);
  });
});
