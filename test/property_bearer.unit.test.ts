/** Property tests of the Authorization header parser against a model of RFC 6750's grammar. */
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generateToken } from "../src/crypto/tokens.js";
import { LatchkeyError } from "../src/errors/errors.js";
import { parseBearer } from "../src/http/bearer.js";
import { authorizationValue } from "./support/rest_arbitraries.js";

const TOKEN_CHARS = new Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");

/** b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
function isB64Token(token: string): boolean {
  let i = 0;
  while (i < token.length && TOKEN_CHARS.has(token[i]!)) i++;
  if (i === 0) return false;
  while (i < token.length && token[i] === "=") i++;
  return i === token.length;
}

/** "Bearer", any ASCII case, then spaces or tabs, the token, optional spaces or tabs. */
function model(header: string): string | "refused" {
  const isBlank = (c: string | undefined) => c === " " || c === "\t";
  let end = header.length;
  while (end > 0 && isBlank(header[end - 1])) end--;
  const scheme = header.slice(0, 6);
  const asciiLower = scheme.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
  if (asciiLower !== "bearer") return "refused";
  let start = 6;
  if (!isBlank(header[start])) return "refused";
  while (start < end && isBlank(header[start])) start++;
  const token = header.slice(start, end);
  return isB64Token(token) && token.length <= 512 ? token : "refused";
}

function outcome(header: string): string | "refused" {
  try {
    const token = parseBearer(header);
    expect(token).toBeTypeOf("string");
    return token!;
  } catch (err) {
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ code: Code.Unauthenticated, id: "AUTH-Hd7f1", key: "Errors.Token.Invalid" });
    return "refused";
  }
}

const budget = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns,
  plugins: [fc.interruptAfterTimeLimit(20_000, { failOnInterrupt: true })],
});

const longValue = fc
  .tuple(fc.constantFrom("Bearer ", "Bearer\t", "bearer ", "", "Bearer a"), fc.constantFrom("a", " ", "\t", "=", "a=", " a", "é"), fc.integer({ min: 0, max: 100_000 }), fc.constantFrom("", " ", "x", "=", "\t\t"))
  .map(([head, unit, n, tail]) => head + unit.repeat(n) + tail);

describe("parseBearer", () => {
  it("no header is no token", () => {
    expect(parseBearer(null)).toBeUndefined();
  });

  it("returns exactly the model's b64token or throws Unauthenticated, for any header value", () => {
    fc.assert(
      fc.property(fc.oneof(authorizationValue(generateToken(), { byteString: false }).map((v) => v ?? ""), longValue), (header) => {
        const actual = outcome(header);
        expect(actual).toBe(model(header));
        if (actual !== "refused") expect(isB64Token(actual)).toBe(true);
      }),
      budget(2000),
    );
  });

  it("every token latchkey issues is read back as it is, whatever the whitespace and case", () => {
    fc.assert(
      fc.property(fc.constantFrom("Bearer", "bearer", "BEARER", "bEaReR"), fc.constantFrom(" ", "\t", "  \t"), fc.constantFrom("", " ", "\t "), (scheme, gap, tail) => {
        const token = generateToken();
        expect(parseBearer(`${scheme}${gap}${token}${tail}`)).toBe(token);
      }),
      budget(200),
    );
  });

  it.each([
    "Bearer a=b", // padding only at the end
    "Bearer ===",
    "Bearer =abc",
    "Bearer \u212Aey", // Kelvin sign: a case-insensitive Unicode regex would read it as "k"
    `Bearer ${"a".repeat(513)}`,
    "Bearer\u00a0abc",
    "Basic abc",
    "Bearer",
    "",
  ])("%j is refused", (header) => {
    expect(outcome(header)).toBe("refused");
  });
});
