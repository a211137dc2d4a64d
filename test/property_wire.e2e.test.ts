/**
 * Property tests over the wire against a started server: hostile REST calls, URL
 * templates and Authorization headers get a 4xx in the protocol's error shape, never a
 * 5xx; the server stays healthy and logs nothing unexpected.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { authorizationValue, bodyBytes, expectRestAnswer, httpMethod, queryString, restPath } from "./support/rest_arbitraries.js";
import { useTestServer } from "./support/server.js";
import { anyTemplate, model, SAMPLE } from "./support/url_template_model.js";


const server = useTestServer();

const budget = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns,
  plugins: [fc.timeout(10_000), fc.interruptAfterTimeLimit(40_000, { failOnInterrupt: true })],
});

/**
 * Only the gateway's own paths: the hosted page and the RPC protocols answer the rest.
 */
const gatewayPath = restPath.filter((p) => p.startsWith("/v2/"));

/** Node answers 431 itself, before any handler, for headers past its 16 KiB limit. */
const oversized = (header: string | undefined) => (header?.length ?? 0) > 16 * 1024;

function expectHealthy() {
  expect(server.logs.filter((line) => line.includes("unexpected error"))).toEqual([]);
}

describe("over the wire", () => {
  it("REST: any method, path, query, body and Authorization header gets 2xx or a 4xx grpc-gateway error", async () => {
    const authorization = authorizationValue("ADMIN", { byteString: true }).map((v) => v?.replace("ADMIN", server.adminToken));
    await fc.assert(
      fc.asyncProperty(httpMethod, gatewayPath, queryString, authorization, bodyBytes, fc.constantFrom(undefined, "application/json", "text/plain", "application/x-www-form-urlencoded"), async (method, path, query, auth, body, contentType) => {
        const headers: Record<string, string> = {};
        if (auth !== undefined) headers.authorization = auth;
        if (contentType !== undefined) headers["content-type"] = contentType;
        const hasBody = method !== "GET" && method !== "HEAD";
        const res = await fetch(`${server.url}${path}${query}`, { method, headers, ...(hasBody && { body: new Uint8Array(body) }) });
        if (oversized(auth)) {
          expect(res.status).toBe(431);
          return;
        }
        expectRestAnswer(res.status, res.headers.get("content-type"), await res.text(), method);
      }),
      budget(200),
    );
    expectHealthy();
  });

  it("URL templates: 400 with the template's id when the model refuses, on to NotFound when it accepts", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(anyTemplate, async (template) => {
        // an unknown user: the template is checked before the user is looked up
        const userId = `nouser-${n++}`;
        const res = await fetch(`${server.url}/v2/users/${userId}/password_reset`, {
          method: "POST",
          headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
          body: JSON.stringify({ sendLink: { notificationType: "NOTIFICATION_TYPE_Email", urlTemplate: template } }),
        });
        const text = await res.text();
        expectRestAnswer(res.status, res.headers.get("content-type"), text, "POST");
        const body = JSON.parse(text) as { code: number; details: { id?: string }[] };
        const length = [...template].length;
        const verdict = model(template, SAMPLE);
        // a lone surrogate is not UTF-8: the JSON mapping refuses it, as protojson does
        if (Buffer.from(template, "utf8").toString("utf8") !== template) expect([res.status, body.details[0]?.id], text).toEqual([400, "GATEWAY-Fq2x7"]);
        else if (length === 0 || length > 200) expect([res.status, body.code], text).toEqual([400, 3]);
        else if (verdict.ok) expect([res.status, body.details[0]?.id], text).toEqual([404, "COMMAND-SAF4f"]);
        else expect([res.status, body.details[0]?.id], text).toEqual([400, verdict.problem === "scheme" ? "DOMAIN-Lk7sc" : "DOMAIN-oGh5e"]);
      }),
      budget(150),
    );
    expectHealthy();
  });

  it("Authorization over Connect and REST: the admin token reaches the handler, anything else is 401", async () => {
    const authorization = authorizationValue("ADMIN", { byteString: true }).map((v) => v?.replace("ADMIN", server.adminToken));
    await fc.assert(
      fc.asyncProperty(authorization, fc.boolean(), async (auth, connect) => {
        const headers: Record<string, string> = connect ? { "content-type": "application/json" } : {};
        if (auth !== undefined) headers.authorization = auth;
        const res = connect
          ? await fetch(`${server.url}/zitadel.user.v2.UserService/GetUserByID`, { method: "POST", headers, body: JSON.stringify({ userId: "nouser" }) })
          : await fetch(`${server.url}/v2/users/nouser`, { headers });
        const text = await res.text();
        if (oversized(auth)) {
          expect(res.status).toBe(431);
          return;
        }
        // fetch sends the value trimmed of leading and trailing whitespace
        const sent = auth?.replace(/^[\t ]+|[\t ]+$/g, "");
        const admin = sent !== undefined && /^bearer[\t ]+(\S+)$/i.exec(sent)?.[1] === server.adminToken;
        expect(res.status, text).toBe(admin ? 404 : 401);
        const body = JSON.parse(text) as Record<string, unknown>;
        expect(body.code, text).toBe(connect ? (admin ? "not_found" : "unauthenticated") : admin ? 5 : 16);
      }),
      budget(150),
    );
    expectHealthy();
  });

  it("afterwards the server still answers /healthz", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expectHealthy();
  });
});

const call = (method: string, path: string, body?: string | Uint8Array) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: typeof body === "string" ? body : new Uint8Array(body) }),
  });

describe("inputs the properties found", () => {
  it.each([
    { given: "a duplicated key", path: "/v2/users/1/password_reset", body: '{"returnCode":{},"returnCode":{}}', id: "GATEWAY-Dk2m6" },
    { given: "invalid UTF-8", path: "/v2/users/1/password", body: Uint8Array.from([...Buffer.from('{"newPassword":{"password":"p'), 0xe4, ...Buffer.from('ssword1!"}}')]), id: "GATEWAY-Ut8v4" },
  ])("given $given in the body, then it is a 400 with $id", async ({ path, body, id }) => {
    const res = await call("POST", path, body);
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ code: 3, details: [{ id }] });
  });

  it("given NUL characters in a new user's names, then the user is created", async () => {
    const res = await call("POST", "/v2/users/human", JSON.stringify({ profile: { givenName: "A\u0000", familyName: "B\u0000" }, email: { email: "nul-names@example.com" } }));
    expect(res.status, await res.text()).toBe(200);
  });

  // PostgreSQL cannot store NUL in text: on every database, keys with NUL find nothing and are not written
  it.each([
    { given: "a NUL in the user id", method: "GET", path: "/v2/users/a%00b", body: undefined, status: 404 },
    { given: "a NUL in the user id of a reset", method: "POST", path: "/v2/users/a%00b/password_reset", body: '{"returnCode":{}}', status: 404 },
    { given: "a NUL in a new user's username", method: "POST", path: "/v2/users/human", body: JSON.stringify({ username: "nul\u0000", profile: { givenName: "A", familyName: "B" }, email: { email: "nul-username@example.com" } }), status: 400 },
  ])("given $given, then the answer is $status and nothing unexpected is logged", async ({ method, path, body, status }) => {
    const before = server.logs.length;
    const res = await call(method, path, body);
    const text = await res.text();
    expectRestAnswer(res.status, res.headers.get("content-type"), text, method);
    expect(res.status, text).toBe(status);
    expect(server.logs.slice(before).filter((line) => line.includes("unexpected error"))).toEqual([]);
  });
});
