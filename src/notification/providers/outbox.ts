import fs from "node:fs";
import path from "node:path";
import nodemailer from "nodemailer";
import { mailOptions, type EmailMessage, type Provider, type SmsMessage } from "./provider.js";

export const OUTBOX_DIR = "outbox";

/**
 * The default when no provider is configured: each message becomes a file in
 * `<data-dir>/outbox/` named after its Message-ID, so delivering it again
 * after a crash rewrites the same file. Files hold codes: owner-only.
 */
export function outbox(dataDir: string, from: string) {
  const dir = path.join(dataDir, OUTBOX_DIR);
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });

  function write(messageId: string, ext: string, content: Buffer | string): { file: string } {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${messageId.replace(/[^A-Za-z0-9.@_-]/g, "_")}.${ext}`);
    const temp = `${file}.tmp`;
    fs.writeFileSync(temp, content, { mode: 0o600 });
    fs.renameSync(temp, file);
    return { file };
  }

  const email: Provider<EmailMessage> = {
    name: `outbox ${dir}`,
    async send(message) {
      const info = await composer.sendMail(mailOptions(from, message));
      return write(message.messageId, "eml", info.message as Buffer); // `buffer: true`
    },
  };
  const sms: Provider<SmsMessage> = {
    name: `outbox ${dir}`,
    send: async (message) => write(message.messageId, "json", JSON.stringify(message, null, 2) + "\n"),
  };
  return { email, sms };
}
