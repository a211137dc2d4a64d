import nodemailer from "nodemailer";
import { DeliveryError, mailOptions, type EmailMessage, type Provider } from "./provider.js";

/**
 * Email through an SMTP server. nodemailer upgrades with STARTTLS whenever the
 * server offers it; `?tls.rejectUnauthorized=false` in the URL accepts a
 * self-signed certificate.
 */
export function smtpProvider(url: string, from: string): Provider<EmailMessage> {
  const transport = nodemailer.createTransport({
    url,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  const { protocol, host } = new URL(url);
  return {
    name: `smtp ${protocol}//${host}`,
    async send(message) {
      try {
        await transport.sendMail(mailOptions(from, message));
      } catch (err) {
        const permanent = typeof err === "object" && err !== null && "permanent" in err && err.permanent === true;
        throw new DeliveryError(err instanceof Error ? err.message : String(err), permanent);
      }
    },
    close: () => transport.close(),
  };
}
