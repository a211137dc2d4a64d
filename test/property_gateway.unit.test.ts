/**
 * Property tests of the REST transcoder's pure parts and of the whole gateway in
 * process (stub handlers, the real interceptors): hostile paths, queries, bodies
 * and Authorization headers get a 4xx in grpc-gateway's shape, never a 5xx.
 */
import { Readable, Writable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { createValidateInterceptor } from "@connectrpc/validate";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UserService } from "../gen/zitadel/user/v2/user_service_pb.js";
import { LatchkeyError } from "../src/errors/errors.js";
import { createLogger } from "../src/logger.js";
import { GatewayError, writeError } from "../src/server/gateway/errors.js";
import { restGateway } from "../src/server/gateway/gateway.js";
import { hashToken } from "../src/crypto/tokens.js";
import { requestUrl, type HttpRequest, type HttpResponse } from "../src/http/io.js";
import { decodeBody, duplicateKey, requestMessage } from "../src/server/gateway/request.js";
import { restRoutes } from "../src/server/gateway/routes.js";
import { authInterceptor, errorInterceptor } from "../src/server/interceptors.js";
import { authorizationValue, bodyBytes, expectRestAnswer, httpMethod, queryString, restPath, segment } from "./support/rest_arbitraries.js";

const routes = restRoutes([UserService]);
const budget = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns,
  plugins: [fc.interruptAfterTimeLimit(30_000, { failOnInterrupt: true })],
});
const asyncBudget = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns,
  plugins: [fc.timeout(10_000), fc.interruptAfterTimeLimit(30_000, { failOnInterrupt: true })],
});

function expectInvalidArgument(err: unknown): void {
  expect(err).toBeInstanceOf(GatewayError);
  expect((err as GatewayError).code).toBe(Code.InvalidArgument);
  expect((err as GatewayError).id).toMatch(/^GATEWAY-\w+$/);
}

// ---------------------------------------------------------------------------
// Duplicate keys: a model of JSON documents whose keys we know.

type Doc = { object: [string, Doc][] } | { array: Doc[] } | { scalar: null | boolean | number | string };

const keyName = fc.oneof(fc.constantFrom("a", "b", "userId", "user_id", "__proto__", ""), fc.string({ unit: "binary", maxLength: 3 }));
const doc: fc.Arbitrary<Doc> = fc.letrec<{ doc: Doc }>((tie) => ({
  doc: fc.oneof(
    { depthSize: "small" },
    fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 4 })).map((scalar) => ({ scalar })),
    fc.array(tie("doc"), { maxLength: 3 }).map((array) => ({ array })),
    fc.array(fc.tuple(keyName, tie("doc")), { maxLength: 4 }).map((object) => ({ object })),
  ),
})).doc;

/** JSON text of the document; keys spelled with escapes when `escape` says so, and spaces around tokens. */
function serialize(d: Doc, escape: (key: string) => boolean, space: string): string {
  if ("scalar" in d) return JSON.stringify(d.scalar);
  if ("array" in d) return `[${space}${d.array.map((x) => serialize(x, escape, space)).join(`${space},${space}`)}${space}]`;
  const members = d.object.map(([key, value]) => {
    const spelled = escape(key) ? `"${[...key].map((c) => (c.length === 1 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : JSON.stringify(c).slice(1, -1))).join("")}"` : JSON.stringify(key);
    return `${spelled}${space}:${space}${serialize(value, escape, space)}`;
  });
  return `{${space}${members.join(`${space},${space}`)}${space}}`;
}

/** The first repeated key in document order. */
function firstDuplicate(d: Doc): string | undefined {
  if ("scalar" in d) return undefined;
  if ("array" in d) {
    for (const item of d.array) {
      const found = firstDuplicate(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (const [key, value] of d.object) {
    if (seen.has(key)) return key;
    seen.add(key);
    const found = firstDuplicate(value);
    if (found !== undefined) return found;
  }
  return undefined;
}

describe("duplicate keys", () => {
  it("duplicateKey finds the first key repeated within one object, however it is spelled", () => {
    fc.assert(
      fc.property(doc, fc.func(fc.boolean()), fc.constantFrom("", " ", "\n\t "), (d, escape, space) => {
        const text = serialize(d, escape, space);
        expect(JSON.parse(text)).toBeDefined();
        expect(duplicateKey(text)).toBe(firstDuplicate(d));
      }),
      budget(1000),
    );
  });

  it("a body with a repeated key is InvalidArgument, as protojson refuses it", () => {
    const reset = routes.find((r) => r.method.name === "PasswordReset")!;
    for (const body of ['{"userId":"a","userId":"b"}', '{"returnCode":{},"returnCode":{}}', '{"sendLink":{"urlTemplate":"a","url\\u0054emplate":"b"}}']) {
      let error: unknown;
      try {
        requestMessage(reset, body, ["1"], new URLSearchParams());
      } catch (err) {
        error = err;
      }
      expectInvalidArgument(error);
      expect((error as GatewayError).id).toBe("GATEWAY-Dk2m6");
    }
  });

  it("100,000 levels of nesting neither overflow the stack nor report a duplicate", () => {
    expect(duplicateKey("[".repeat(100_000) + "]".repeat(100_000))).toBeUndefined();
    expect(duplicateKey('{"a":'.repeat(100_000) + "1" + "}".repeat(100_000))).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------

describe("request bodies", () => {
  it("decodeBody returns the text of valid UTF-8 and refuses anything else", () => {
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 20 }).map((s) => new TextEncoder().encode(s)));
    fc.assert(
      fc.property(bytes, (input) => {
        const lossy = Buffer.from(input).toString("utf8");
        const valid = Buffer.from(lossy, "utf8").equals(Buffer.from(input));
        let text: string | undefined;
        try {
          text = decodeBody(input);
        } catch (err) {
          expectInvalidArgument(err);
        }
        expect(text !== undefined).toBe(valid);
        if (text !== undefined) expect(Buffer.from(text, "utf8").equals(Buffer.from(input))).toBe(true);
      }),
      budget(2000),
    );
  });

  it("requestMessage builds the route's message or throws InvalidArgument, for any body, path and query", () => {
    fc.assert(
      fc.property(fc.constantFrom(...routes), bodyBytes, segment, queryString, (route, body, capture, query) => {
        let text: string;
        try {
          text = decodeBody(body);
        } catch (err) {
          expectInvalidArgument(err);
          return;
        }
        try {
          const message = requestMessage(route, text, route.variables.map(() => capture), new URLSearchParams(query));
          expect(message.$typeName).toBe(route.method.input.typeName);
        } catch (err) {
          expectInvalidArgument(err);
        }
      }),
      budget(1000),
    );
  });
});

describe("paths and URLs", () => {
  it("a single-segment variable never captures a slash, and every match is anchored", () => {
    fc.assert(
      fc.property(fc.oneof(restPath, fc.string({ unit: "binary", maxLength: 80 })), (path) => {
        for (const route of routes) {
          const captures = route.pattern.exec(path)?.slice(1);
          if (!captures) continue;
          for (const capture of captures) expect(capture).toMatch(/^[^/]+$/);
          expect(path.startsWith("/v2/users/")).toBe(true);
        }
      }),
      budget(2000),
    );
  });

  it("requestUrl never throws, whatever the request target", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 60 }), restPath, fc.webUrl(), fc.constant(undefined)), (url) => {
        expect(requestUrl({ url } as HttpRequest)).toBeInstanceOf(URL);
      }),
      budget(2000),
    );
  });

  it("requestUrl parses a request once: every route that asks reads the same URL", () => {
    const req = { url: "//v2/users/1/password_reset?x=1" } as HttpRequest;
    const first = requestUrl(req);
    expect(first.pathname).toBe("//v2/users/1/password_reset");
    expect(requestUrl(req)).toBe(first);
    expect(requestUrl({ url: "/other" } as HttpRequest).pathname).toBe("/other");
  });
});

describe("writeError", () => {
  const thrown = fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 16 }), fc.string(), fc.string(), fc.string({ unit: "binary" })).map(([code, id, key, text]) => new LatchkeyError(code as Code, id, key, text)),
    fc.tuple(fc.integer({ min: 1, max: 16 }), fc.string({ unit: "binary" })).map(([code, text]) => new ConnectError(text, code as Code)),
    fc.anything(),
  );

  it("writes one JSON error body for anything thrown, with grpc-gateway's status for its code", () => {
    fc.assert(
      fc.property(thrown, (err) => {
        const written: { status?: number; body?: string } = {};
        writeError({ writeHead: (status: number) => (written.status = status), end: (body: string) => (written.body = body) }, err);
        const body = JSON.parse(written.body!) as { code: number };
        expect(Object.keys(body)).toEqual(["code", "message", "details"]);
        if (err instanceof LatchkeyError && [Code.InvalidArgument, Code.NotFound, Code.PermissionDenied, Code.Unauthenticated, Code.FailedPrecondition].includes(err.code)) {
          expect(written.status).toBeGreaterThanOrEqual(400);
          expect(written.status).toBeLessThan(500);
        }
        if (!(err instanceof LatchkeyError) && !(err instanceof ConnectError)) expect([written.status, body.code]).toEqual([500, Code.Internal]);
      }),
      budget(1000),
    );
  });
});

// ---------------------------------------------------------------------------
// The whole gateway in process: stub handlers that answer every call, and the
// interceptors that stand between them and the caller in the real server.

describe("the gateway in process", () => {
  const TOKEN = "good-token_0123456789";
  const logs: string[] = [];
  const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _enc, done) => (logs.push(chunk.toString("utf8")), done()) }) });
  const stub = Object.fromEntries(UserService.methods.map((m) => [m.localName, () => ({})]));
  const gateway = restGateway({
    routes: (router) => router.service(UserService, stub),
    interceptors: [
      errorInterceptor(logger),
      authInterceptor(async (tokenHash) => (tokenHash === hashToken(TOKEN) ? { userId: "1", orgId: "1", role: "IAM_OWNER" } : undefined)),
      createValidateInterceptor(),
    ],
    maxBodyBytes: 1024 * 1024,
  });

  function call(method: string, url: string, authorization: string | undefined, body: Uint8Array): Promise<{ status: number; headers: Record<string, string>; text: string }> {
    return new Promise((resolve, reject) => {
      const req = Object.assign(Readable.from(body.length > 0 ? [Buffer.from(body)] : []), {
        method,
        url,
        headers: { "content-length": String(body.length), "content-type": "application/json", ...(authorization !== undefined && { authorization }) },
      }) as unknown as HttpRequest;
      let status = 0;
      let headers: Record<string, string> = {};
      const res = {
        writeHead(s: number, h: Record<string, string>) {
          if (status !== 0) reject(new Error("writeHead called twice"));
          status = s;
          headers = h;
        },
        end: (text: string) => resolve({ status, headers, text }),
      } as unknown as HttpResponse;
      if (!gateway.route(req, res)) gateway.notFound(req, res);
    });
  }

  it("answers every call with 2xx or a 4xx grpc-gateway error, and nothing unexpected is logged", async () => {
    await fc.assert(
      fc.asyncProperty(httpMethod, restPath, queryString, authorizationValue(TOKEN, { byteString: false }), bodyBytes, async (method, path, query, authorization, body) => {
        const answer = await call(method, path + query, authorization, body);
        expectRestAnswer(answer.status, answer.headers["content-type"] ?? null, answer.text, "GET");
        expect(logs.filter((line) => line.includes("unexpected error"))).toEqual([]);
      }),
      asyncBudget(800),
    );
  });

  it.each([
    { given: "a duplicated key", body: '{"userId":"1","userId":"2"}', id: "GATEWAY-Dk2m6" },
    { given: "invalid UTF-8 in a string", body: Uint8Array.from([...Buffer.from('{"newPassword":{"password":"p'), 0xe4, ...Buffer.from('ssword1!"}}')]), id: "GATEWAY-Ut8v4" },
  ])("given $given, when posted, then it is a 400 with $id", async ({ body, id }) => {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    const answer = await call("POST", "/v2/users/1/password", undefined, bytes);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({ code: Code.InvalidArgument, details: [{ id }] });
  });
});
