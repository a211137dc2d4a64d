import { createHmac } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserEvents } from "../src/command/user/events.js";
import type { StoredEvent } from "../src/eventstore/eventstore.js";
import { MAX_RETRY_DELAY_MS, decideDelivery, messageIdOf, needsMessage, retryDelay } from "../src/notification/decide.js";
import { foldRecipient } from "../src/notification/fold.js";
import { TemplateError, loadTemplates, parseTexts, pickLanguage, resetLink, type MessageValues } from "../src/notification/messages.js";
import { redact } from "../src/notification/notifier.js";
import { signWebhook } from "../src/notification/providers/sms_webhook.js";

const HOUR = 3600_000;
const T0 = new Date("2026-01-01T10:00:00Z");
let nextPosition = 1;

function event(sequence: number, type: string, payload: Record<string, unknown> = {}): StoredEvent {
  return {
    position: nextPosition++,
    instanceId: "default",
    aggregateType: "user",
    aggregateId: "u1",
    sequence,
    type,
    payload,
    createdAt: T0,
    resourceOwner: "o1",
    editor: "admin",
  };
}

const added = (phone?: string) =>
  event(1, UserEvents.humanAdded, {
    username: "ada",
    profile: { givenName: "Ada", familyName: "Lovelace", preferredLanguage: "de" },
    email: { address: "ada@example.com", verified: false },
    ...(phone && { phone: { number: phone, verified: false } }),
    passwordChangeRequired: false,
  });

const code = (sequence: number, extra: Record<string, unknown> = {}) =>
  event(sequence, UserEvents.passwordCodeAdded, {
    code: "v1.sealed",
    expiresAt: T0.getTime() + HOUR,
    medium: "email",
    codeReturned: false,
    ...extra,
  });

describe("which events lead to a message", () => {
  it("code added and password changed do, a returned code and other events do not", () => {
    expect(needsMessage(code(2))).toBe(true);
    expect(needsMessage(event(2, UserEvents.passwordChanged, { passwordHash: "x", changeRequired: false }))).toBe(true);
    expect(needsMessage(code(2, { codeReturned: true }))).toBe(false);
    expect(needsMessage(added())).toBe(false);
    expect(needsMessage(event(3, UserEvents.passwordCodeSent, { triggerSequence: 2 }))).toBe(false);
  });
});

describe("decideDelivery", () => {
  const history = [added("+41791234567"), code(2)];

  it("sends a fresh code by email to the user's address", () => {
    expect(decideDelivery(foldRecipient(history), history[1]!, T0)).toEqual({ action: "send", channel: "email", to: "ada@example.com" });
  });

  it("sends an SMS code to the phone number", () => {
    const sms = code(2, { medium: "sms" });
    expect(decideDelivery(foldRecipient([added("+41791234567"), sms]), sms, T0)).toEqual({ action: "send", channel: "sms", to: "+41791234567" });
  });

  it("fails an SMS code for a user without a phone", () => {
    const sms = code(2, { medium: "sms" });
    expect(decideDelivery(foldRecipient([added(), sms]), sms, T0)).toEqual({ action: "fail", channel: "sms", reason: "user has no phone number" });
  });

  it("skips an expired code, a returned code, a replaced code and a removed user", () => {
    const skip = (events: StoredEvent[], trigger: StoredEvent, now = T0) => {
      const decision = decideDelivery(foldRecipient(events), trigger, now);
      return decision.action === "skip" ? decision.reason : decision.action;
    };
    expect(skip(history, history[1]!, new Date(T0.getTime() + HOUR))).toBe("code expired");
    expect(skip(history, history[1]!, new Date(T0.getTime() + HOUR - 1))).toBe("send");
    const returned = code(2, { codeReturned: true });
    expect(skip([added(), returned], returned)).toBe("code returned to the caller");
    expect(skip([...history, code(3)], history[1]!)).toBe("code replaced, invalidated or password changed since");
    expect(skip([...history, event(3, UserEvents.passwordChanged)], history[1]!)).toBe("code replaced, invalidated or password changed since");
    expect(skip([...history, event(3, UserEvents.removed)], history[1]!)).toBe("user removed");
    const invalidated = event(4, UserEvents.passwordCodeInvalidated, { failedAttempts: 5 });
    expect(skip([...history, event(3, UserEvents.passwordCodeCheckFailed), invalidated], history[1]!)).toBe("code replaced, invalidated or password changed since");
  });

  it("skips what was already sent or recorded as failed, and only that", () => {
    const sent = event(3, UserEvents.passwordCodeSent, { triggerSequence: 2, messageId: "m" });
    expect(decideDelivery(foldRecipient([...history, sent]), history[1]!, T0)).toEqual({ action: "skip", reason: "already sent or failed" });
    const failed = event(3, UserEvents.notificationFailed, { triggerSequence: 2, messageId: "m", channel: "email", reason: "x", attempts: 3 });
    expect(decideDelivery(foldRecipient([...history, failed]), history[1]!, T0).action).toBe("skip");
    const other = event(3, UserEvents.passwordCodeSent, { triggerSequence: 99, messageId: "m" });
    expect(decideDelivery(foldRecipient([...history, other]), history[1]!, T0).action).toBe("send");
  });

  it("notices a password change by email, however old", () => {
    const changed = event(3, UserEvents.passwordChanged, { passwordHash: "x", changeRequired: false });
    const decision = decideDelivery(foldRecipient([...history, changed]), changed, new Date(T0.getTime() + 48 * HOUR));
    expect(decision).toEqual({ action: "send", channel: "email", to: "ada@example.com" });
  });
});

describe("retryDelay", () => {
  it("doubles per failure, between half and all of the step", () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1000, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1000, () => 0))).toEqual([500, 1000, 2000, 4000]);
  });

  it("stays within its bounds for any random value and is capped", () => {
    for (let failures = 1; failures <= 40; failures++) {
      const step = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** (failures - 1));
      const delay = retryDelay(failures, 1000);
      expect(delay).toBeGreaterThanOrEqual(step / 2);
      expect(delay).toBeLessThanOrEqual(step);
    }
    expect(retryDelay(40, 1000, () => 1)).toBe(MAX_RETRY_DELAY_MS);
  });
});

it("the Message-ID is derived from the event alone", () => {
  const e = code(7);
  expect(messageIdOf(e, "login.example.com")).toBe("u1.7.default@login.example.com");
  expect(messageIdOf({ ...e, position: 999 }, "login.example.com")).toBe(messageIdOf(e, "login.example.com"));
});

describe("languages", () => {
  const available = ["en", "de", "de-ch"];
  it.each([
    ["de", "de"],
    ["DE", "de"],
    ["de-CH", "de-ch"],
    ["de_AT", "de"],
    ["fr", "en"],
    [undefined, "en"],
    ["", "en"],
  ])("%s -> %s", (preferred, chosen) => {
    expect(pickLanguage(preferred, available)).toBe(chosen);
  });
});

describe("texts files", () => {
  it("are key = value lines with comments and blank lines", () => {
    expect(parseTexts("# c\n\n a.b = Hello {{x}} = y \r\nc=d\n")).toEqual({ "a.b": "Hello {{x}} = y", c: "d" });
  });

  it("name the line of a malformed entry", () => {
    expect(() => parseTexts("a = b\njust text", "de.txt")).toThrow('de.txt line 2: expected "key = value"');
  });
});

describe("built-in templates", () => {
  const templates = loadTemplates();
  const values: MessageValues = {
    displayName: "Ada <b>Lovelace</b>",
    givenName: "Ada",
    familyName: "Lovelace",
    username: "ada",
    code: "AB12CD",
    link: "https://example.com/reset?user=1&code=AB12CD",
  };

  it("render the English reset email: subject, text part, escaped HTML part", () => {
    const mail = templates.email("passwordReset", undefined, values);
    expect(mail.subject).toBe("Reset password");
    expect(mail.text).toContain("Hello Ada <b>Lovelace</b>,");
    expect(mail.text).toContain("(Code AB12CD)");
    expect(mail.text).toContain("Reset password: https://example.com/reset?user=1&code=AB12CD");
    expect(mail.html).toContain("Hello Ada &lt;b&gt;Lovelace&lt;/b&gt;,");
    expect(mail.html).toContain('href="https://example.com/reset?user&#x3D;1&amp;code&#x3D;AB12CD"');
    expect(mail.html).not.toContain("<b>Lovelace");
    expect(mail.html).toContain('<html lang="en">');
  });

  it("render German for de and de-CH, English for an unknown language", () => {
    expect(templates.email("passwordReset", "de-CH", values).subject).toBe("Passwort zurücksetzen");
    expect(templates.email("passwordChanged", "de", values).text).toContain("Das Passwort deines Benutzers wurde geändert.");
    expect(templates.email("passwordChanged", "fr", values).subject).toBe("Password of user has changed");
  });

  it("render the SMS text with code and link", () => {
    expect(templates.sms("passwordReset", "en", values)).toBe(
      "Your password reset code is AB12CD. Reset your password at https://example.com/reset?user=1&code=AB12CD",
    );
  });
});

describe("an operator template directory", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-templates-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const values: MessageValues = { displayName: "Ada", givenName: "Ada", familyName: "L", username: "ada", code: "X1", link: "https://x" };

  it("replaces layout files and single texts, adds languages, falls back to built-in keys", () => {
    fs.mkdirSync(path.join(dir, "lang"));
    fs.writeFileSync(path.join(dir, "subject.hbs"), "[Acme] {{subject}}");
    fs.writeFileSync(path.join(dir, "lang", "de.txt"), "passwordReset.subject = Neues Passwort für {{givenName}}\n");
    fs.writeFileSync(path.join(dir, "lang", "fr.txt"), "passwordReset.greeting = Bonjour {{displayName}},\n");
    const templates = loadTemplates(dir);
    expect(templates.email("passwordReset", "de", values).subject).toBe("[Acme] Neues Passwort für Ada");
    expect(templates.email("passwordReset", "de", values).text).toContain("Hallo Ada,");
    const fr = templates.email("passwordReset", "fr", values);
    expect(fr.text).toContain("Bonjour Ada,");
    expect(fr.subject).toBe("[Acme] Reset password");
  });

  it("stops the start when a template does not parse", () => {
    fs.writeFileSync(path.join(dir, "email.html.hbs"), "{{#if link}}unclosed");
    expect(() => loadTemplates(dir)).toThrow(TemplateError);
  });
});

describe("links", () => {
  it("default to the hosted page under the external URL", () => {
    expect(resetLink({ externalUrl: "https://login.example.com", userId: "42", orgId: "7", code: "AB12CD" })).toBe(
      "https://login.example.com/ui/login/password/init?userID=42&code=AB12CD&orgID=7",
    );
  });

  it("follow the caller's template", () => {
    const urlTemplate = "myapp://reset/<<.UserID>>?c={{ .Code }}&o={{.OrgID}}";
    expect(resetLink({ externalUrl: "https://x", urlTemplate, userId: "42", orgId: "7", code: "AB12CD" })).toBe("myapp://reset/42?c=AB12CD&o=7");
  });
});

it("signWebhook is HMAC-SHA256 over timestamp.body", () => {
  const body = '{"to":"+41"}';
  const expected = createHmac("sha256", "s3cret").update(`1700000000.${body}`).digest("hex");
  expect(signWebhook("s3cret", body, 1700000000)).toBe(`t=1700000000,v1=${expected}`);
});

it("redact removes every occurrence of each secret", () => {
  expect(redact("code AB12CD, again AB12CD; pass p@ss", ["AB12CD", "p@ss", ""])).toBe("code [redacted], again [redacted]; pass [redacted]");
});
