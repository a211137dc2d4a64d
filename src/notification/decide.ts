/** The notifier's decisions as pure functions: which events get a message, and when to retry. */
import { UserEvents, type NotificationMedium, type PasswordCodeAddedPayload } from "../command/user/events.js";
import type { StoredEvent } from "../eventstore/eventstore.js";
import type { Recipient } from "./fold.js";
import type { MessageKind } from "./messages.js";

export type Channel = NotificationMedium;

interface Trigger {
  kind: MessageKind;
  /** event appended once the message went out */
  sent: string;
  /** the payload is a verification code (PasswordCodeAddedPayload) */
  carriesCode: boolean;
}

const TRIGGERS: Readonly<Record<string, Trigger>> = {
  [UserEvents.passwordCodeAdded]: { kind: "passwordReset", sent: UserEvents.passwordCodeSent, carriesCode: true },
  [UserEvents.passwordChanged]: { kind: "passwordChanged", sent: UserEvents.passwordChangeSent, carriesCode: false },
};

export function triggerOf(event: StoredEvent): Trigger | undefined {
  return TRIGGERS[event.type];
}

export function codeOf(event: StoredEvent): PasswordCodeAddedPayload | undefined {
  return triggerOf(event)?.carriesCode ? (event.payload as unknown as PasswordCodeAddedPayload) : undefined;
}

/** Whether an event from the stream may lead to a message at all. */
export function needsMessage(event: StoredEvent): boolean {
  return triggerOf(event) !== undefined && codeOf(event)?.codeReturned !== true;
}

export type Decision =
  | { action: "skip"; reason: string }
  | { action: "fail"; channel: Channel; reason: string }
  | { action: "send"; channel: Channel; to: string };

/** What to do about a trigger event now, given the user as the notifier sees it. */
export function decideDelivery(user: Recipient, event: StoredEvent, now: Date): Decision {
  const skip = (reason: string): Decision => ({ action: "skip", reason });
  if (!triggerOf(event)) return skip("not a message trigger");
  if (user.handled.has(event.sequence)) return skip("already sent or failed");
  if (user.removed) return skip("user removed");
  if (!user.human) return skip("not a human user");
  const code = codeOf(event);
  if (code) {
    if (code.codeReturned) return skip("code returned to the caller");
    if (event.sequence < user.codesValidFrom) return skip("code replaced, invalidated or password changed since");
    if (now.getTime() >= code.expiresAt) return skip("code expired");
  }
  const channel: Channel = code?.medium ?? "email";
  const to = channel === "sms" ? user.human.phone?.number : user.human.email.address;
  if (!to) return { action: "fail", channel, reason: channel === "sms" ? "user has no phone number" : "user has no email address" };
  return { action: "send", channel, to };
}

export const MAX_RETRY_DELAY_MS = 10 * 60_000;

/**
 * Delay after the `failures`-th failed attempt: doubling from `firstDelayMs`, capped,
 * with "equal jitter" (between half and all of it) so retries of many messages spread out.
 */
export function retryDelay(failures: number, firstDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_DELAY_MS, firstDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Stable per trigger event, so a message sent again after a crash carries the same id. */
export function messageIdOf(event: StoredEvent, domain: string): string {
  return `${event.aggregateId}.${event.sequence}.${event.instanceId}@${domain}`;
}
