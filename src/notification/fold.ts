/**
 * The notifier's own view of a user aggregate: who receives messages and which
 * events were already answered with a sent or failed record.
 */
import type { StoredEvent } from "../eventstore/eventstore.js";
import { UserEvents, type HumanAddedPayload } from "../command/user/events.js";
import { foldWith, type WriteModel } from "../command/write_model.js";

/** Payload of the notifier's own events (sent and failed). */
export interface DeliveryRecordPayload {
  /** sequence of the event the message answered */
  triggerSequence: number;
  messageId: string;
}

export interface DeliveryFailedPayload extends DeliveryRecordPayload {
  channel: string;
  reason: string;
  attempts: number;
}

export interface Recipient {
  sequence: number;
  orgId: string;
  removed: boolean;
  human?: Pick<HumanAddedPayload, "username" | "profile" | "email" | "phone">;
  /** codes added before this sequence no longer work: a newer code, a password change or an invalidation came since */
  codesValidFrom: number;
  /** trigger sequences that already have a sent or failed record */
  handled: ReadonlySet<number>;
}

const RECORDS: ReadonlySet<string> = new Set([
  UserEvents.passwordCodeSent,
  UserEvents.passwordChangeSent,
  UserEvents.notificationFailed,
]);

/** Events after which every earlier code is void. */
const CODE_ENDINGS: ReadonlySet<string> = new Set([
  UserEvents.passwordCodeAdded,
  UserEvents.passwordChanged,
  UserEvents.passwordCodeInvalidated,
]);

export const recipientModel: WriteModel<Recipient> = {
  name: "recipient",
  version: 1,
  initial: () => ({ sequence: 0, orgId: "", removed: false, codesValidFrom: 0, handled: new Set() }),
  evolve(before, event) {
    const user: Recipient = { ...before, sequence: event.sequence, orgId: event.resourceOwner };
    if (event.type === UserEvents.humanAdded) {
      const { username, profile, email, phone } = event.payload as unknown as HumanAddedPayload;
      return { ...user, human: { username, profile, email, ...(phone && { phone }) } };
    }
    if (event.type === UserEvents.removed) return { ...user, removed: true };
    if (CODE_ENDINGS.has(event.type)) return { ...user, codesValidFrom: event.sequence };
    if (RECORDS.has(event.type)) {
      return { ...user, handled: new Set(user.handled).add((event.payload as unknown as DeliveryRecordPayload).triggerSequence) };
    }
    return user;
  },
};

export function foldRecipient(events: readonly StoredEvent[]): Recipient {
  return foldWith(recipientModel, events);
}
