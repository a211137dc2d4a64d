/**
 * A model of the URL-template rules (README, ZITADEL reference): the three placeholders
 * in either delimiter form, spaces and tabs inside, at most 200 code points, no
 * javascript:, data:, vbscript: or file: link. A plain scan over code points.
 */
import fc from "fast-check";
import type { UrlTemplateProblem, UrlTemplateValues } from "../../src/command/url_template.js";

export type Verdict = { ok: true; url: string } | { ok: false; problem: UrlTemplateProblem; message: string };

const NAMES = ["UserID", "Code", "OrgID"] as const;
const CLOSERS: Record<string, string> = { "{{": "}}", "<<": ">>" };
export const SAMPLE: UrlTemplateValues = { UserID: "1", Code: "ABC123", OrgID: "1" };

function placeholderName(inner: string): (typeof NAMES)[number] | undefined {
  let start = 0;
  let end = inner.length;
  while (start < end && (inner[start] === " " || inner[start] === "\t")) start++;
  while (end > start && (inner[end - 1] === " " || inner[end - 1] === "\t")) end--;
  const body = inner.slice(start, end);
  return NAMES.find((name) => body === `.${name}`);
}

/** The scheme a browser would see: leading C0 controls and spaces dropped, tab/CR/LF ignored. */
function browserScheme(url: string): string | undefined {
  let k = 0;
  while (k < url.length && url.charCodeAt(k) <= 0x20) k++;
  let scheme = "";
  for (const c of url.slice(k)) {
    if (c === "\t" || c === "\n" || c === "\r") continue;
    if (c === ":") break;
    const isLetter = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
    const ok = isLetter || (scheme !== "" && ((c >= "0" && c <= "9") || c === "+" || c === "-" || c === "."));
    if (!ok) return undefined;
    scheme += c;
  }
  const rest = url.slice(k).replace(/[\t\n\r]/g, "");
  return scheme !== "" && rest.startsWith(`${scheme}:`) ? scheme.toLowerCase() : undefined;
}

export function model(template: string, values: UrlTemplateValues): Verdict {
  const chars = Array.from(template);
  if (chars.length > 200) {
    return { ok: false, problem: "syntax", message: `template is ${chars.length} characters long; at most 200 are allowed` };
  }
  let url = "";
  let i = 0;
  while (i < chars.length) {
    const pair = chars[i]! + (chars[i + 1] ?? "");
    const closer = CLOSERS[pair];
    if (closer === undefined) {
      url += chars[i];
      i++;
      continue;
    }
    let j = i + 2;
    while (j < chars.length && chars[j]! + (chars[j + 1] ?? "") !== closer) j++;
    if (j >= chars.length) return { ok: false, problem: "syntax", message: `unclosed "${pair}" at position ${i}` };
    const inner = chars.slice(i + 2, j).join("");
    const name = placeholderName(inner);
    if (name === undefined) {
      const fragment = JSON.stringify(pair + inner + closer);
      return { ok: false, problem: "syntax", message: `unknown placeholder ${fragment} at position ${i}` };
    }
    url += values[name];
    i = j + 2;
  }
  const scheme = browserScheme(url);
  if (scheme === "javascript" || scheme === "data" || scheme === "vbscript" || scheme === "file") {
    return { ok: false, problem: "scheme", message: `links with the ${scheme}: scheme are not allowed` };
  }
  return { ok: true, url };
}

// Generators: near misses of the delimiters and names, look-alikes, controls, lone surrogates.

const NEAR_MISSES = [
  "{{", "}}", "<<", ">>", "{", "}", "<", ">", "{{{", "}}}", "<<<", ">>>", ".", " ", "\t", "\n", "\r",
  "{{.UserID}}", "{{.Code}}", "{{.OrgID}}", "<<.UserID>>", "<<.Code>>", "<<.OrgID>>", "{{ .UserID }}", "<<\t.Code\t>>",
  "{{.UserId}}", "{{ .UserID}", "{.UserID}", "<<.UserID>", "<.UserID>>", "{{.userid}}", "{{.CODE}}", "{{UserID}}",
  "{{..Code}}", "{{.Code.}}", "{{.Code }} }}", "{{ {{.Code}} }}", "<<{{.Code}}>>", "{{<<.Code>>}}", "{{-.Code-}}",
  "{{/* x */}}", "{{.Code | html}}", "{{$}}", "{{.}}", "{{ }}",
  "UserID", "Code", "OrgID", ".UserID", ".Code", ".OrgID",
  // look-alikes: fullwidth braces and angle brackets, Cyrillic and Greek letters, invisible characters
  "｛｛.UserID｝｝", "＜＜.Code＞＞", "｛", "｝", "{{.Usеr\u0049D}}", "{{.Сode}}", "{{.OrgΙD}}", "{{.Code\u200b}}",
  "{{\u00a0.Code}}", "{{.Code\u3000}}", "\ufeff", "\u200b", "\u2028", "\u2029",
  "\0", "\x01", "\x1f", "\x7f", "\x85", "\\", "\\{{", "%7B%7B", "&#123;",
  "😀", "👩‍👩‍👧", "\ud83d", "\ude00", "\ud800", "\udfff", "𝐔",
  "https://example.com/reset?u=", "&c=", "myapp://", "//", "?", "#", "%", "$", "`",
  "javascript:", "JaVaScRiPt:", "java\tscript:", "java\nscript:", "\x01javascript:", " data:", "vbscript:", "file:", "DATA:",
];

/** one UTF-16 unit: covers lone surrogates as well */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

const piece = fc.oneof(
  { arbitrary: fc.constantFrom(...NEAR_MISSES), weight: 6 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 4 }), weight: 2 },
  { arbitrary: fc.string({ unit: codeUnit, maxLength: 4 }), weight: 1 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }), weight: 1 },
);

export const nearMissTemplate = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(""));

export const anyTemplate = fc.oneof(
  { arbitrary: nearMissTemplate, weight: 6 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 250 }), weight: 1 },
  { arbitrary: fc.string({ unit: codeUnit, maxLength: 250 }), weight: 1 },
  { arbitrary: fc.string({ unit: fc.constantFrom("{", "}", "<", ">", ".", " ", "C", "o", "d", "e"), maxLength: 60 }), weight: 2 },
);
