/**
 * Property tests of the URL-template parser and renderer against a small model of
 * the placeholder rules, over arbitrary and adversarial text.
 */
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Aggregates } from "../src/command/aggregates.js";
import type { CommandDeps } from "../src/command/deps.js";
import {
  MAX_URL_TEMPLATE_LENGTH,
  UrlTemplateError,
  checkUrlTemplate,
  parseUrlTemplate,
  renderUrlTemplate,
} from "../src/command/url_template.js";
import { createUserCommands } from "../src/command/user/commands.js";
import { LatchkeyError } from "../src/errors/errors.js";
import { anyTemplate, model, nearMissTemplate, SAMPLE, type Verdict } from "./support/url_template_model.js";

function outcome(action: () => string): Verdict {
  try {
    return { ok: true, url: action() };
  } catch (err) {
    if (err instanceof UrlTemplateError) return { ok: false, problem: err.problem, message: err.message };
    throw err;
  }
}

function expectAgreement(actual: Verdict, expected: Verdict): void {
  if (expected.ok || actual.ok) {
    expect(actual).toEqual(expected);
    return;
  }
  // the implementation adds a hint after the reason
  expect({ ...actual, message: actual.message.slice(0, expected.message.length) }).toEqual(expected);
}

// ---------------------------------------------------------------------------
// Generators

const value = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom("", "javascript", "JavaScript:alert(1)//", "data", "{{.Code}}", "<<.UserID>>", "\\", "$&", "$'", "\ud800"),
);
const values = fc.record({ UserID: value, Code: value, OrgID: value });

/** A template of exactly `length` code points: placeholders and text with astral characters. */
function templateOfLength(length: number) {
  const filler = fc.constantFrom("a", "é", "😀", "𝐔", "👩", "\ud800", "{", ">", "\0");
  return fc
    .tuple(fc.array(fc.constantFrom("{{.UserID}}", "<<.Code>>", "{{ .OrgID }}"), { maxLength: 4 }), fc.array(filler, { minLength: length, maxLength: length }))
    .map(([placeholders, fill]) => {
      const head = placeholders.join("");
      const text = fill.slice(0, Math.max(0, length - Array.from(head).length)).join("");
      return head + text;
    })
    .filter((template) => Array.from(template).length === length);
}

// Many cheap runs; the time limit turns a hang or a pathological slowdown into a failure, not a stuck CI job.
const budget = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns,
  plugins: [fc.interruptAfterTimeLimit(20_000, { failOnInterrupt: true })],
});

// ---------------------------------------------------------------------------

describe("URL templates, property-based", () => {
  it("render agrees with the model: the same URL, or the same refusal for the same reason", () => {
    fc.assert(
      fc.property(anyTemplate, values, (template, vals) => {
        expectAgreement(outcome(() => renderUrlTemplate(template, vals)), model(template, vals));
      }),
      budget(3000),
    );
  });

  it("check agrees with the model under the sample values and throws nothing but UrlTemplateError", () => {
    fc.assert(
      fc.property(anyTemplate, (template) => {
        const expected = model(template, SAMPLE);
        const actual = outcome(() => {
          checkUrlTemplate(template);
          return expected.ok ? expected.url : "accepted";
        });
        expectAgreement(actual, expected);
      }),
      budget(2000),
    );
  });

  it("parse yields non-empty text runs and known placeholders that reassemble the accepted template", () => {
    fc.assert(
      fc.property(nearMissTemplate, (template) => {
        let parts;
        try {
          parts = parseUrlTemplate(template);
        } catch (err) {
          expect(err).toBeInstanceOf(UrlTemplateError);
          expect((err as UrlTemplateError).problem).toBe("syntax");
          const verdict = model(template, SAMPLE);
          expect(verdict.ok === false && verdict.problem === "syntax").toBe(true);
          return;
        }
        const marker = { UserID: "\u{F0000}", Code: "\u{F0001}", OrgID: "\u{F0002}" };
        for (const part of parts) if (part.kind === "text") expect(part.text).not.toBe("");
        const joined = parts.map((p) => (p.kind === "text" ? p.text : marker[p.name])).join("");
        const expected = model(template, marker);
        // a scheme refusal still means the syntax was fine
        if (expected.ok) expect(joined).toBe(expected.url);
        else expect(expected.problem).toBe("scheme");
      }),
      budget(2000),
    );
  });

  it.each([
    { length: MAX_URL_TEMPLATE_LENGTH, accepted: true },
    { length: MAX_URL_TEMPLATE_LENGTH + 1, accepted: false },
  ])("the limit counts code points: $length code points with astral characters and lone surrogates", ({ length, accepted }) => {
    fc.assert(
      fc.property(templateOfLength(length), (template) => {
        const verdict = outcome(() => renderUrlTemplate(template, SAMPLE));
        const lengthRefusal = !verdict.ok && verdict.message.startsWith("template is");
        expect(lengthRefusal).toBe(!accepted);
        expectAgreement(verdict, model(template, SAMPLE));
      }),
      budget(300),
    );
  });

  it("a long run of openers or closers is handled without blowing up", () => {
    for (const template of ["{{".repeat(100), "<<".repeat(100), "{{ ".repeat(66), "}}".repeat(100), "{".repeat(200), "{{".repeat(100_000)]) {
      expectAgreement(outcome(() => renderUrlTemplate(template, SAMPLE)), model(template, SAMPLE));
    }
  });
});

describe("URL templates through the PasswordReset command", () => {
  const storeReached = new Error("store reached");
  const unusable = new Proxy({}, { get: () => () => Promise.reject(storeReached) });
  const deps = {
    store: unusable,
    aggregates: new Aggregates(unusable as never),
    clock: () => new Date(0),
    cipher: { encrypt: () => ({}) },
    hasher: unusable,
    codes: { length: 6, ttlMs: 3_600_000, maxAttempts: 5 },
  } as unknown as CommandDeps;
  const users = createUserCommands(deps);
  const principal = { userId: "1", orgId: "1", role: "IAM_OWNER" } as const;

  it("a bad template is InvalidArgument with its id before anything is looked up; a good one goes on", async () => {
    await fc.assert(
      fc.asyncProperty(anyTemplate, async (template) => {
        const verdict = model(template, SAMPLE);
        let error: unknown;
        try {
          await users.requestPasswordReset(principal, "1", { kind: "link", medium: "email", urlTemplate: template });
        } catch (err) {
          error = err;
        }
        if (verdict.ok) {
          expect(error).toBe(storeReached);
          return;
        }
        expect(error).toBeInstanceOf(LatchkeyError);
        const domain = error as LatchkeyError;
        expect(domain.code).toBe(Code.InvalidArgument);
        expect(domain.id).toBe(verdict.problem === "scheme" ? "DOMAIN-Lk7sc" : "DOMAIN-oGh5e");
        expect(domain.key).toBe("Errors.User.InvalidURLTemplate");
        expect(domain.text).toContain(verdict.message);
      }),
      { ...budget(500), plugins: [fc.timeout(5_000), fc.interruptAfterTimeLimit(20_000, { failOnInterrupt: true })] },
    );
  });
});
