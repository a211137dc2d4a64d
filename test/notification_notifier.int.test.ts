/** The notifier loop against a real SQLite store, with a fake provider, an injected clock and retry delay. */
import { randomBytes } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Aggregates } from "../src/command/aggregates.js";
import { UserEvents } from "../src/command/user/events.js";
import { CodeCipher } from "../src/crypto/code_cipher.js";
import { openSqliteEventStore, type SqliteEventStore } from "../src/eventstore/sqlite.js";
import { createLogger } from "../src/logger.js";
import { loadTemplates } from "../src/notification/messages.js";
import { startNotifier, type Notifier } from "../src/notification/notifier.js";
import { DeliveryError, type EmailMessage, type Provider } from "../src/notification/providers/provider.js";
import { sqliteNotificationState } from "../src/notification/state.js";
import { waitUntil } from "./support/notification.js";

/** a fresh database file: the event store's writer thread and its readers share it */
function tempFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-notifier-")), "latchkey.db");
}

const cipher = new CodeCipher([randomBytes(32)]);
let now = new Date("2026-05-01T08:00:00Z");
const clock = () => now;
const opened: Array<{ store: SqliteEventStore; notifier: Notifier }> = [];

afterEach(async () => {
  for (const { store, notifier } of opened.splice(0)) {
    await notifier.close();
    await store.close();
  }
});

/** Each send waits for the test to settle it through `pending`. */
function fakeEmail() {
  const pending: Array<{ message: EmailMessage; resolve: () => void; reject: (err: Error) => void }> = [];
  const provider: Provider<EmailMessage> = {
    name: "fake",
    send: (message) => new Promise<void>((resolve, reject) => pending.push({ message, resolve, reject })),
  };
  return { provider, pending };
}

function setup(retryDelay: (failures: number) => number = () => 60_000, pollMs = 5) {
  const store = openSqliteEventStore({ file: tempFile(), now: clock });
  const email = fakeEmail();
  const notifier = startNotifier({
    store,
    state: sqliteNotificationState(store.db),
    aggregates: new Aggregates(store),
    cipher,
    templates: loadTemplates(),
    providers: { email: email.provider, sms: { name: "none", send: async () => undefined } },
    logger: createLogger({ level: "silent" }),
    clock,
    externalUrl: "https://login.example.com",
    maxAttempts: 5,
    retryDelay,
    pollMs,
  });
  opened.push({ store, notifier });
  return { store, notifier, email };
}

async function userWithCode(store: SqliteEventStore, id: string, address: string): Promise<void> {
  await store.append([
    {
      aggregate: { type: "user", id },
      resourceOwner: "org",
      expectedSequence: 0,
      events: [
        {
          type: UserEvents.humanAdded,
          payload: { username: id, profile: { givenName: "A", familyName: "B" }, email: { address, verified: true }, passwordChangeRequired: false },
          editor: "test",
        },
        {
          type: UserEvents.passwordCodeAdded,
          payload: { code: cipher.encrypt("ABC123"), expiresAt: now.getTime() + 3600_000, medium: "email", codeReturned: false },
          editor: "test",
        },
      ],
    },
  ]);
}

const sentEvents = async (store: SqliteEventStore, id: string) =>
  (await store.readAggregate({ type: "user", id })).filter((e) => e.type === UserEvents.passwordCodeSent);

it("close waits for the delivery in flight, which is then recorded", async () => {
  const { store, notifier, email } = setup();
  await userWithCode(store, "u1", "a@example.com");
  const inFlight = await waitUntil(() => email.pending[0], "the send");
  expect(inFlight.message).toMatchObject({ to: "a@example.com", messageId: "u1.2.default@login.example.com", subject: "Reset password" });

  let closed = false;
  const closing = notifier.close().then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(closed).toBe(false);
  inFlight.resolve();
  await closing;
  expect(await sentEvents(store, "u1")).toHaveLength(1);
});

it("a retry waits for the injected clock to pass the injected delay", async () => {
  const delays: number[] = [];
  const { store, email } = setup((failures) => {
    delays.push(failures);
    return 60_000;
  });
  await userWithCode(store, "u1", "a@example.com");
  (await waitUntil(() => email.pending[0], "the first attempt")).reject(new DeliveryError("451 try later", false));
  await waitUntil(() => delays.length === 1, "the retry to be scheduled");

  await new Promise((resolve) => setTimeout(resolve, 50)); // many polls, still before the retry time
  expect(email.pending).toHaveLength(1);

  now = new Date(now.getTime() + 60_000);
  (await waitUntil(() => email.pending[1], "the second attempt")).resolve();
  await waitUntil(async () => (await sentEvents(store, "u1")).length === 1, "code.sent");
  expect(delays).toEqual([1]);
});

it("a hanging delivery does not hold up the next one", async () => {
  const { store, email } = setup();
  await userWithCode(store, "slow", "slow@example.com");
  await waitUntil(() => email.pending[0], "the slow send");
  await userWithCode(store, "fast", "fast@example.com");
  const fast = await waitUntil(() => email.pending.find((p) => p.message.to === "fast@example.com"), "the fast send");
  fast.resolve();
  await waitUntil(async () => (await sentEvents(store, "fast")).length === 1, "code.sent for the fast one");
  expect(await sentEvents(store, "slow")).toEqual([]);
  email.pending[0]!.resolve();
});

it("a finished delivery frees its slot for the next due message at once, not at the next poll", async () => {
  const store = openSqliteEventStore({ file: tempFile(), now: clock });
  // 20 messages wait before the notifier starts; its first poll is at start, the next a minute later
  for (let i = 0; i < 20; i++) await userWithCode(store, `u${i}`, `u${i}@example.com`);
  const sent: string[] = [];
  const notifier = startNotifier({
    store,
    state: sqliteNotificationState(store.db),
    aggregates: new Aggregates(store),
    cipher,
    templates: loadTemplates(),
    providers: { email: { name: "instant", send: async (m) => void sent.push(m.to) }, sms: { name: "none", send: async () => undefined } },
    logger: createLogger({ level: "silent" }),
    clock,
    externalUrl: "https://login.example.com",
    maxAttempts: 5,
    retryDelay: () => 60_000,
    pollMs: 60_000,
  });
  opened.push({ store, notifier });
  await waitUntil(() => sent.length === 20, "all 20 messages from the first poll (8 at a time)");
  expect(new Set(sent).size).toBe(20);
});
