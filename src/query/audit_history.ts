/**
 * A user's history for operators: one entry per event of the user aggregate,
 * saying in words what happened, who asked and from where. Entries are built
 * from an allow-list of payload fields, so codes, hashes and tokens never reach them.
 */
import { UserEvents, type AuditRecord, type PasswordProofKind } from "../command/user/events.js";
import type { StoredEvent } from "../eventstore/eventstore.js";

export interface AuditEntry {
  /** ISO 8601, UTC */
  time: string;
  sequence: number;
  /** the event type */
  event: string;
  /** what happened, in words */
  what: string;
  /** id of the user (or application, or "system") that caused it */
  editor: string;
  clientIp?: string;
  userAgent?: string;
}

export interface HistoryOptions {
  /** wrong codes after which a code is invalidated, for "attempt 2 of 5"; without it "attempt 2" */
  maxCodeAttempts?: number;
}

type Payload = Readonly<Record<string, unknown>>;

const PROOF_WORDS: Record<PasswordProofKind, string> = {
  code: "password changed with a code",
  currentPassword: "password changed with the current password",
  permission: "password set by an administrator",
};

export function auditEntries(events: readonly StoredEvent[], options: HistoryOptions = {}): AuditEntry[] {
  let failedAttempts = 0;
  const media = new Map<number, string>();
  return events.map((event) => {
    const payload: Payload = event.payload;
    let what: string;
    switch (event.type) {
      case UserEvents.passwordCodeAdded: {
        failedAttempts = 0;
        const medium = payload.medium === "sms" ? "SMS" : "email";
        media.set(event.sequence, medium);
        what = `password reset requested (${resetHow(payload, medium)})`;
        break;
      }
      case UserEvents.passwordCodeCheckFailed: {
        failedAttempts++;
        const of = options.maxCodeAttempts !== undefined ? ` of ${options.maxCodeAttempts}` : "";
        what = `code check failed (attempt ${failedAttempts}${of})`;
        break;
      }
      case UserEvents.passwordCodeInvalidated: {
        const attempts = typeof payload.failedAttempts === "number" ? payload.failedAttempts : failedAttempts;
        failedAttempts = 0;
        what = `code invalidated after ${attempts} wrong ${attempts === 1 ? "attempt" : "attempts"}`;
        break;
      }
      case UserEvents.passwordChanged: {
        failedAttempts = 0;
        const proof = auditOf(payload)?.proof;
        what = (proof && PROOF_WORDS[proof]) ?? "password changed";
        if (payload.changeRequired === true) what += ", to be changed at the next login";
        break;
      }
      case UserEvents.passwordCodeSent: {
        const trigger = payload.triggerSequence;
        const medium = typeof trigger === "number" ? media.get(trigger) : undefined;
        what = `reset message sent${medium ? ` by ${medium}` : ""}${typeof trigger === "number" ? ` (for #${trigger})` : ""}`;
        break;
      }
      case UserEvents.passwordChangeSent:
        what = "password change notice sent";
        break;
      case UserEvents.notificationFailed: {
        const channel = typeof payload.channel === "string" ? ` by ${printable(payload.channel)}` : "";
        const trigger = typeof payload.triggerSequence === "number" ? ` (for #${payload.triggerSequence})` : "";
        what = `message${channel} could not be delivered${trigger}`;
        break;
      }
      case UserEvents.humanAdded:
        what = `human user created${typeof payload.username === "string" ? ` (username ${printable(payload.username)})` : ""}`;
        if (typeof payload.passwordHash === "string") what += " with a password";
        break;
      case UserEvents.machineAdded:
        what = `machine user created${typeof payload.role === "string" ? ` (${printable(payload.role)})` : ""}`;
        break;
      case UserEvents.patAdded:
        what = "personal access token created";
        break;
      case UserEvents.passwordCheckFailed:
        what = "current password wrong";
        break;
      case UserEvents.locked: {
        const attempts = payload.failedAttempts;
        what = typeof attempts === "number" ? `user locked after ${attempts} failed checks (lockout policy)` : "user locked";
        break;
      }
      case UserEvents.unlocked:
        what = "user unlocked";
        break;
      case UserEvents.deactivated:
        what = "user deactivated";
        break;
      case UserEvents.reactivated:
        what = "user reactivated";
        break;
      case UserEvents.removed:
        what = "user deleted";
        break;
      default:
        what = printable(event.type);
    }
    const audit = auditOf(payload);
    return {
      time: event.createdAt.toISOString(),
      sequence: event.sequence,
      event: printable(event.type),
      what,
      editor: printable(event.editor),
      ...(audit && { clientIp: printable(audit.clientIp) }),
      ...(audit?.userAgent !== undefined && { userAgent: printable(audit.userAgent) }),
    };
  });
}

function resetHow(payload: Payload, medium: string): string {
  if (payload.codeReturned === true) return "code returned to the caller";
  if (medium === "SMS") return "SMS";
  return typeof payload.urlTemplate === "string" ? "email link to the caller's page" : "email link";
}

function auditOf(payload: Payload): AuditRecord | undefined {
  const audit = payload.audit;
  if (typeof audit !== "object" || audit === null) return undefined;
  const { clientIp, userAgent, proof } = audit as Record<string, unknown>;
  if (typeof clientIp !== "string") return undefined;
  return {
    clientIp,
    ...(typeof userAgent === "string" && { userAgent }),
    ...((proof === "code" || proof === "currentPassword" || proof === "permission") && { proof }),
  };
}

/** Control and format characters of stored text become "?", so that it cannot steer the operator's terminal. */
function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, "?");
}

/** One aligned line per entry: time, sequence, what, who, from where. */
export function formatLines(entries: readonly AuditEntry[], userId: string): string[] {
  const seqWidth = Math.max(0, ...entries.map((e) => String(e.sequence).length)) + 1;
  const whatWidth = Math.max(0, ...entries.map((e) => e.what.length));
  const who = (e: AuditEntry) => (e.editor === userId ? `${e.editor} (the user)` : e.editor);
  const whoWidth = Math.max(0, ...entries.map((e) => who(e).length));
  return entries.map(
    (e) => `${e.time}  ${`#${e.sequence}`.padEnd(seqWidth)}  ${e.what.padEnd(whatWidth)}  by ${who(e).padEnd(whoWidth)}  from ${e.clientIp ?? "-"}`,
  );
}

/** One JSON object per entry, with the same fields as the lines and the user agent. */
export function formatJsonLines(entries: readonly AuditEntry[]): string[] {
  return entries.map((e) => JSON.stringify(e));
}
