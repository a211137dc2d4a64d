/** fast-check generators of hostile REST calls and Authorization headers, and the answer every call must get. */
import fc from "fast-check";
import { expect } from "vitest";

const enc = new TextEncoder();

export const SEGMENT_PIECES = ["%", "%2", "%2F", "%2f", "%00", "%ff", "%C0%80", "%ED%A0%80", "%F0%9F%98%80", "%E2%82", ".", "..", "~", ":", "@", "+", "=", "&", ";", "*"];

/** One path segment: plain, percent-encoded garbage, or Unicode (fetch percent-encodes it). */
export const segment = fc.oneof(
  fc.webSegment(),
  fc.string({ unit: fc.constantFrom(...SEGMENT_PIECES, "a", "1", "Z"), minLength: 1, maxLength: 8 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }).map(encodeURIComponent),
  fc.constantFrom("1", "human", "%20", "0", "-1", "a".repeat(201), "9".repeat(40)),
);

export const restPath = fc.oneof(
  { arbitrary: fc.tuple(segment, fc.constantFrom("", "/password_reset", "/password", "/lock", "/deactivate", "/", "//")).map(([s, tail]) => `/v2/users/${s}${tail}`), weight: 6 },
  { arbitrary: fc.constantFrom("/v2/users/human", "/v2/users", "/v2/users/", "/v2", "/v2/users/1/2/3", "/V2/USERS/1", "/v2/users/1/password_reset/"), weight: 2 },
  { arbitrary: fc.webPath().map((p) => (p.startsWith("/") ? p : `/${p}`)), weight: 1 },
  { arbitrary: fc.array(segment, { maxLength: 5 }).map((s) => `/v2/${s.join("/")}`), weight: 1 },
);

const QUERY_KEYS = ["user_id", "userId", "sendLink.notificationType", "send_link.url_template", "returnCode", "profile.givenName", "__proto__", "constructor", "a.b.c", "", "user_id.x", "sendLink"];

export const queryString = fc.oneof(
  fc.constant(""),
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 6 })), fc.oneof(fc.string({ unit: "binary", maxLength: 12 }), fc.constantFrom("1", "-1", "99999999999999999999", "true", "NOTIFICATION_TYPE_SMS", "%", "%ZZ"))), { maxLength: 4 })
    .map((pairs) => `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v.startsWith("%") ? v : encodeURIComponent(v)}`).join("&")}`),
  fc.webQueryParameters().map((q) => `?${q}`),
);

export const httpMethod = fc.constantFrom("GET", "POST", "POST", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS");

const KEYS = ["userId", "user_id", "returnCode", "return_code", "sendLink", "send_link", "notificationType", "urlTemplate", "newPassword", "password", "verificationCode", "profile", "email", "givenName", "__proto__", "constructor", "toString", "nope"];

/** JSON that looks like requests: known keys with values of every type, nested. */
const requestJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, "", "x", "NOTIFICATION_TYPE_SMS", "https://x/?c={{.Code}}", "{{.Nope}}", "javascript:{{.Code}}"),
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.double(),
    fc.array(tie("value"), { maxLength: 3 }),
    tie("object"),
  ),
  object: fc.dictionary(fc.constantFrom(...KEYS), tie("value"), { maxKeys: 4 }),
})).value;

// 100,000 levels now and then: each such body costs tens of milliseconds to parse
const depth = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 2_000 }), weight: 9 }, { arbitrary: fc.constantFrom(10_000, 100_000), weight: 1 });
const deep = fc.tuple(depth, fc.constantFrom("[", '{"a":', '{"profile":', '{"sendLink":', '[{"a":'), fc.boolean()).map(([n, open, closed]) => {
  const text = open.repeat(n);
  if (!closed) return text;
  const close = open === "[" ? "]" : open === '[{"a":' ? "}]" : "}";
  return `${text}0${close.repeat(n)}`;
});

const duplicates = fc
  .tuple(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom("", "sendLink"))
  .map(([key, a, b, outer]) => {
    const inner = `{${JSON.stringify(key)}:${JSON.stringify(a)},${JSON.stringify(key)}:${JSON.stringify(b)}}`;
    return outer ? `{"${outer}":${inner}}` : inner;
  });

const hugeNumber = fc
  .tuple(fc.constantFrom('{"sendLink":{"notificationType":%}}', '{"userId":%}', '{"newPassword":{"changeRequired":%}}', "%", '{"returnCode":%}'), fc.constantFrom("1e400", "-1e400", "99999999999999999999999999999", "1e-400", "-0", "0.0000001", "1".repeat(5000), "1E+2"))
  .map(([shape, n]) => shape.replace("%", n));

/** A request body: JSON of every kind and size, invalid JSON, invalid UTF-8. */
export const bodyBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { arbitrary: requestJson.map((v) => enc.encode(JSON.stringify(v) ?? "")), weight: 5 },
  { arbitrary: fc.jsonValue().map((v) => enc.encode(JSON.stringify(v))), weight: 2 },
  { arbitrary: fc.oneof(deep, duplicates, hugeNumber).map((s) => enc.encode(s)), weight: 3 },
  { arbitrary: fc.constantFrom("", " ", "null", "[]", "1", '"x"', "true", "{", "}", "{}", "\ufeff{}", '{"userId":"\\ud800"}', "{\"returnCode\":{}}\u0000").map((s) => enc.encode(s)), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 64 }), weight: 1 },
  {
    // valid JSON with one byte of invalid UTF-8 inside a string
    arbitrary: fc.tuple(fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xed, 0xf5, 0xff), fc.constantFrom("userId", "urlTemplate", "nope")).map(([byte, key]) => {
      const before = enc.encode(`{"${key === "urlTemplate" ? "sendLink" : "x"}":{},"${key}":"a`);
      return Uint8Array.from([...before, byte, ...enc.encode('"}')]);
    }),
    weight: 1,
  },
);

/** Authorization header values as a client may send them; `token` is a valid one. */
export function authorizationValue(token: string, { byteString }: { byteString: boolean }): fc.Arbitrary<string | undefined> {
  // what an HTTP/1.1 header value may hold (HTAB, SP, VCHAR, obs-text); anything else Node refuses before us
  const fieldByte = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c));
  const unit = byteString ? fieldByte : "binary";
  const value = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(`Bearer ${token}`, `bearer ${token}`, `BEARER\t${token}`, `Bearer  ${token}  `, `Bearer ${token}=`, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", `Bearer ${token} x`, `Bearer ${"a".repeat(512)}`, `Bearer ${"a".repeat(513)}`, `Bearer ${"=".repeat(3)}`, "Bearer a=b", `Bearer ${"\t".repeat(3000)}x`, `Bearer ${"a".repeat(100_000)}`),
    fc.tuple(fc.constantFrom("Bearer ", "bearer\t", "Bearer", "Bearer  ", "Bearer\u00a0", "Bеarer "), fc.string({ unit, maxLength: 40 }), fc.constantFrom("", " ", "\t")).map((p) => p.join("")),
    fc.string({ unit, maxLength: 60 }),
    fc.string({ unit: fc.constantFrom("a", "Z", "0", "-", ".", "_", "~", "+", "/", "=", " ", "\t"), minLength: 1, maxLength: 30 }).map((t) => `Bearer ${t}`),
  );
  return byteString ? value.filter((v) => v === undefined || /^[\t\x20-\x7e\x80-\xff]*$/.test(v)) : value;
}

/** Every answer of the REST surface: under 500 and, unless 2xx, grpc-gateway's error body. */
export function expectRestAnswer(status: number, contentType: string | null, text: string, method: string): void {
  expect(status, text).toBeLessThan(500);
  if (method === "HEAD") return;
  expect(contentType).toBe("application/json");
  const body = JSON.parse(text) as Record<string, unknown>;
  if (status < 300) {
    expect(typeof body).toBe("object");
    return;
  }
  expect(status, text).toBeGreaterThanOrEqual(400);
  expect(Object.keys(body)).toEqual(["code", "message", "details"]);
  expect(body.code).toSatisfy((c: unknown) => Number.isInteger(c) && (c as number) > 0 && (c as number) <= 16);
  expect(typeof body.message).toBe("string");
  expect(Array.isArray(body.details)).toBe(true);
  for (const detail of body.details as Record<string, unknown>[]) expect(typeof detail["@type"]).toBe("string");
}
