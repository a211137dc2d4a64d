/**
 * Helpers for delivery tests: a real SMTP server (smtp-server) that keeps what
 * it accepts parsed with postal-mime, users created through the API, and the
 * real code of a reset read back from the event store.
 */
import net from "node:net";
import PostalMime, { type Email } from "postal-mime";
import { SMTPServer } from "smtp-server";
import { CodeCipher } from "../../src/crypto/code_cipher.js";
import type { StoredEvent } from "../../src/eventstore/eventstore.js";
import { loadOrCreateEncryptionKey } from "../../src/eventstore/data_dir.js";
import { allClients, type TestClient } from "./clients.js";

export interface ReceivedMail {
  raw: string;
  email: Email;
  recipients: string[];
  /** the session had switched to TLS (STARTTLS) */
  secure: boolean;
  user?: string;
}

export interface SmtpOptions {
  port?: number;
  /** require this login */
  auth?: { user: string; pass: string };
  /** SMTP reply code for a recipient, e.g. 550; accepted when undefined */
  rejectRecipient?: (address: string) => number | undefined;
  /** accept connections but never greet, like a hung server */
  stall?: boolean;
}

export interface TestSmtpServer {
  port: number;
  received: ReceivedMail[];
  /** connections opened so far */
  connections: number;
  close(): Promise<void>;
}

/** A port nobody listens on (yet). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export async function startSmtpServer(options: SmtpOptions = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let connections = 0;
  const server = new SMTPServer({
    logger: false,
    authOptional: options.auth === undefined,
    allowInsecureAuth: true,
    onConnect(_session, callback) {
      connections++;
      if (!options.stall) callback();
    },
    onAuth(auth, _session, callback) {
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass) {
        callback(null, { user: auth.username });
      } else {
        callback(new Error("invalid login"));
      }
    },
    onRcptTo(address, _session, callback) {
      const code = options.rejectRecipient?.(address.address);
      if (code === undefined) return callback();
      callback(Object.assign(new Error(`recipient ${address.address} rejected`), { responseCode: code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        PostalMime.parse(raw).then(
          (email) => {
            received.push({
              raw,
              email,
              recipients: session.envelope.rcptTo.map((r) => r.address),
              secure: session.secure,
              ...(typeof session.user === "string" && { user: session.user }),
            });
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  // a client that vanishes mid-session (a killed latchkey) resets its connection; that is not the test's failure
  server.on("error", () => {});
  const { port } = server.server.address() as net.AddressInfo;
  return {
    port,
    received,
    get connections() {
      return connections;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Polls until `check` returns a value other than undefined or false. */
export async function waitUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface NewUser {
  email?: string;
  phone?: string;
  givenName?: string;
  familyName?: string;
  preferredLanguage?: string;
}

/** Adds a human user through the API (Connect JSON); returns its id and organization. */
export async function addUser(url: string, token: string, user: NewUser = {}): Promise<{ userId: string; orgId: string }> {
  const out = await connectJson(url, (client) => client.call(
    "addHumanUser",
    {
      profile: {
        givenName: user.givenName ?? "Ada",
        familyName: user.familyName ?? "Lovelace",
        ...(user.preferredLanguage && { preferredLanguage: user.preferredLanguage }),
      },
      email: { email: user.email ?? `ada-${Math.random().toString(36).slice(2)}@example.com` },
      ...(user.phone && { phone: { phone: user.phone } }),
    },
    token,
  ));
  if (!out.ok) throw new Error(`AddHumanUser failed: ${out.message}`);
  return { userId: out.value.userId, orgId: out.value.details!.resourceOwner };
}

/** PasswordReset through the API; `medium` as in the generated client (sendLink / returnCode / none). */
export async function resetPassword(url: string, token: string, userId: string, medium: object = {}): Promise<void> {
  const out = await connectJson(url, (client) => client.call("passwordReset", { userId, ...medium }, token));
  if (!out.ok) throw new Error(`PasswordReset failed: ${out.message}`);
}

async function connectJson<T>(url: string, call: (client: TestClient) => Promise<T>): Promise<T> {
  const clients = allClients(url);
  try {
    return await call(clients.find((c) => c.name.startsWith("connect JSON"))!);
  } finally {
    for (const c of clients) c.close();
  }
}

/** The plain code of the code.added event at `sequence`, decrypted with the data directory's key. */
export function realCode(dataDir: string, events: readonly StoredEvent[], sequence: number): string {
  const event = events.find((e) => e.sequence === sequence && e.type === "user.human.password.code.added");
  if (!event) throw new Error(`no code at sequence ${sequence}`);
  return new CodeCipher([loadOrCreateEncryptionKey(dataDir)]).decrypt(event.payload.code as string);
}

export function eventsOfType(events: readonly StoredEvent[], type: string): StoredEvent[] {
  return events.filter((e) => e.type === type);
}
