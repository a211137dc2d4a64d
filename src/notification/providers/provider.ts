/** What a delivery channel gets, and how it reports failure. */

export interface EmailMessage {
  /** without angle brackets */
  messageId: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  date: Date;
}

/** The email as nodemailer composes it, the same for every email channel. */
export function mailOptions(from: string, message: EmailMessage) {
  const { to, subject, text, html, date } = message;
  return { from, to, subject, text, html, date, messageId: `<${message.messageId}>` };
}

export interface SmsMessage {
  messageId: string;
  to: string;
  text: string;
}

export interface Provider<M> {
  /** for logs, without credentials */
  readonly name: string;
  /** Resolves with details worth logging (never the message itself). */
  send(message: M): Promise<Record<string, string> | void>;
  close?(): void;
}

/** A failed delivery; `permanent` when trying again cannot help (e.g. SMTP 5xx). */
export class DeliveryError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "NOTIFY-Dlv5r";
  override readonly name = "DeliveryError";

  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}
