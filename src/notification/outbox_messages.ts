/**
 * Reading the outbox back, for `latchkey outbox`: a person copies the link
 * from here rather than from the `.eml`, whose text part is quoted-printable
 * (`=3D` for `=`, lines broken with `=`).
 */
import fs from "node:fs";
import path from "node:path";
import PostalMime from "postal-mime";
import { OUTBOX_DIR } from "./providers/outbox.js";

export interface OutboxMessage {
  /** when the file was written: when the message was delivered to the outbox */
  time: Date;
  medium: "email" | "sms";
  to: string;
  subject: string;
  /** the http(s) links of the text, decoded, in order */
  links: string[];
  file: string;
}

export interface OutboxFile {
  file: string;
  time: Date;
}

/** The outbox's message files, newest first; none when there is no outbox yet. */
export function outboxFiles(dataDir: string): OutboxFile[] {
  const dir = path.join(dataDir, OUTBOX_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return names
    .filter((name) => name.endsWith(".eml") || name.endsWith(".json"))
    .map((name) => {
      const file = path.join(dir, name);
      // nanoseconds: two messages of one second still come in order
      const { mtime, mtimeNs } = fs.statSync(file, { bigint: true });
      return { file, time: mtime, ns: mtimeNs };
    })
    .sort((a, b) => (a.ns === b.ns ? b.file.localeCompare(a.file) : a.ns < b.ns ? 1 : -1))
    .map(({ file, time }) => ({ file, time }));
}

export async function readOutboxMessage({ file, time }: OutboxFile): Promise<OutboxMessage> {
  const raw = fs.readFileSync(file);
  if (file.endsWith(".json")) {
    const sms = JSON.parse(raw.toString("utf8")) as { to?: unknown; text?: unknown };
    const text = typeof sms.text === "string" ? sms.text : "";
    return { time, medium: "sms", to: String(sms.to ?? ""), subject: "SMS", links: linksIn(text), file };
  }
  const email = await PostalMime.parse(raw);
  const to = (email.to ?? []).flatMap((a) => ("group" in a && Array.isArray(a.group) ? a.group : [a])).map((m) => m.address ?? m.name);
  return { time, medium: "email", to: to.join(", "), subject: email.subject ?? "", links: linksIn(email.text ?? ""), file };
}

/** The distinct http(s) URLs of a text; punctuation that ends a sentence is not part of them. */
export function linksIn(text: string): string[] {
  const links = (text.match(/\bhttps?:\/\/[^\s<>"]+/g) ?? []).map((url) => url.replace(/[.,;:!?'")\]]+$/, ""));
  return [...new Set(links)];
}

/** Two lines and more per message: time, recipient, subject; then each link on its own line, easy to copy. */
export function formatOutboxMessage(message: OutboxMessage): string {
  const head = `${message.time.toISOString()}  ${message.to}  ${message.subject}`;
  return [head, ...message.links.map((link) => `  ${link}`)].join("\n");
}

export function outboxMessageJson(message: OutboxMessage): string {
  return JSON.stringify({ ...message, time: message.time.toISOString() });
}
