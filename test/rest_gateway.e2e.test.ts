/** The REST gateway through the real curl binary, as operators and scripts call ZITADEL. */
import { execFile } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import * as http2 from "node:http2";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { useTestServer, tempDir, } from "./support/server.js";

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: any;
}


const server = useTestServer();

/** Runs curl with the given arguments against the server; path is appended to its URL. */
async function curl(urlPath: string, ...args: string[]): Promise<CurlResult> {
  const { stdout } = await promisify(execFile)("curl", ["-s", "-i", ...args, `${server.url}${urlPath}`], { maxBuffer: 16 * 1024 * 1024 });
  let rest = stdout;
  let head: string;
  do {
    const end = rest.indexOf("\r\n\r\n");
    head = rest.slice(0, end);
    rest = rest.slice(end + 4);
  } while (/^HTTP\/\S+ 1\d\d/.test(head)); // 100 Continue
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  return { status: Number(statusLine!.split(" ")[1]), headers, body: rest === "" ? undefined : JSON.parse(rest) };
}

const auth = () => ["-H", `Authorization: Bearer ${server.adminToken}`];
/** curl -d sends application/x-www-form-urlencoded unless told otherwise. */
const JSON_BODY = ["-H", "Content-Type: application/json"];

async function addUser(): Promise<string> {
  const email = `rest-${Math.random().toString(36).slice(2)}@example.com`;
  const res = await curl("/v2/users/human", ...auth(), "-H", "Content-Type: application/json", "-d", JSON.stringify({ profile: { givenName: "Ada", familyName: "Lovelace" }, email: { email } }));
  expect(res.status).toBe(200);
  return res.body.userId as string;
}

/** The grpc-gateway error body with one zitadel.v1.ErrorDetail. */
function expectError(res: CurlResult, status: number, code: number, id: string | RegExp) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers["content-type"]).toBe("application/json");
  expect(Object.keys(res.body)).toEqual(["code", "message", "details"]);
  expect(res.body.code).toBe(code);
  expect(res.body.details).toEqual([{ "@type": "type.googleapis.com/zitadel.v1.ErrorDetail", id: expect.stringMatching(id), message: expect.stringMatching(/^Errors\./) }]);
  expect(res.body.message).toMatch(new RegExp(`\\(${res.body.details[0].id}\\)$`));
}

describe("PasswordReset over REST", () => {
  let userId: string;

  beforeAll(async () => {
    userId = await addUser();
  });

  it("the seed's own example, with both sendLink and returnCode, is 400 saying the oneof is set twice", async () => {
    const res = await curl(
      `/v2/users/${userId}/password_reset`,
      "-L",
      "-H", "Content-Type: application/json",
      "-H", "Accept: application/json",
      "-H", `Authorization: Bearer ${server.adminToken}`,
      "-d", `{
"sendLink": {
"notificationType": "NOTIFICATION_TYPE_Unspecified",
"urlTemplate": "https://example.com/password/changey?userID={{.UserID}}&code={{.Code}}&orgID={{.OrgID}}"
},
"returnCode": {}
}`,
    );
    expectError(res, 400, 3, "GATEWAY-Fq2x7");
    expect(res.body.message).toMatch(/oneof set multiple times by send_link and return_code/);
  });

  it("only sendLink: 200, sequence as a JSON string, dates in RFC 3339", async () => {
    const res = await curl(
      `/v2/users/${userId}/password_reset`,
      ...auth(),
      "-H", "Content-Type: application/json",
      "-d", JSON.stringify({ sendLink: { notificationType: "NOTIFICATION_TYPE_Unspecified", urlTemplate: "https://example.com/password/changey?userID={{.UserID}}&code={{.Code}}&orgID={{.OrgID}}" } }),
    );
    expect(res.status).toBe(200);
    expect(res.body.details.sequence).toBe("2");
    expect(res.body.details.changeDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(res.body.details.creationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(res.body.details.resourceOwner).toMatch(/^\d+$/);
    expect(res.body.verificationCode).toBeUndefined();
  });

  // A fresh user each: the notifier appends its own "sent" events to users it mailed.
  it("only returnCode: the verification code", async () => {
    const res = await curl(`/v2/users/${await addUser()}/password_reset`, ...auth(), ...JSON_BODY, "-d", '{"returnCode":{}}');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ details: { sequence: "2" }, verificationCode: expect.stringMatching(/^[A-Z0-9]{6}$/) });
  });

  it("snake_case fields and enum numbers are accepted", async () => {
    const res = await curl(`/v2/users/${await addUser()}/password_reset`, ...auth(), ...JSON_BODY, "-d", '{"send_link":{"notification_type":1,"url_template":"https://example.com/r?c={{.Code}}"}}');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.details.sequence).toBe("2");
  });

  it("an unknown user is 404 COMMAND-SAF4f", async () => {
    const res = await curl("/v2/users/999999999999999999/password_reset", ...auth(), ...JSON_BODY, "-d", "{}");
    expectError(res, 404, 5, "COMMAND-SAF4f");
    expect(res.body.message).toBe("User could not be found (COMMAND-SAF4f)");
    expect(res.body.details[0].message).toBe("Errors.User.NotFound");
  });

  it("no token is 401 AUTH-...", async () => {
    const res = await curl(`/v2/users/${userId}/password_reset`, ...JSON_BODY, "-d", '{"returnCode":{}}');
    expectError(res, 401, 16, /^AUTH-/);
  });

  it("an unknown token is 401", async () => {
    const res = await curl(`/v2/users/${userId}/password_reset`, "-H", "Authorization: Bearer nope", ...JSON_BODY, "-d", "{}");
    expectError(res, 401, 16, /^AUTH-/);
  });

  it("a bad template is 400 DOMAIN-oGh5e", async () => {
    const res = await curl(`/v2/users/${userId}/password_reset`, ...auth(), ...JSON_BODY, "-d", '{"sendLink":{"urlTemplate":"{{.Foo}}"}}');
    expectError(res, 400, 3, "DOMAIN-oGh5e");
  });

  it("a field that fails validation is 400 naming it", async () => {
    const res = await curl(`/v2/users/${userId}/password_reset`, ...auth(), ...JSON_BODY, "-d", `{"sendLink":{"urlTemplate":"${"x".repeat(201)}"}}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 3, message: expect.stringContaining("url_template") });
    expect(res.body.details[0]["@type"]).toBe("type.googleapis.com/buf.validate.Violations");
  });

  it("works over HTTP/2 as well", async () => {
    const res = await curl(`/v2/users/${userId}/password_reset`, "--http2-prior-knowledge", ...auth(), ...JSON_BODY, "-d", '{"returnCode":{}}');
    expect(res.status).toBe(200);
    expect(res.body.verificationCode).toMatch(/^[A-Z0-9]{6}$/);
  });

  it("takes the interceptors' path: the x-request-id comes back and the call is logged as rest", async () => {
    const res = await curl(`/v2/users/${userId}/password_reset`, ...auth(), ...JSON_BODY, "-H", "x-request-id: rest-test-1", "-d", "{}");
    expect(res.status).toBe(200);
    expect(res.headers["x-request-id"]).toBe("rest-test-1");
    const line = server.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === "rest-test-1");
    expect(line).toMatchObject({ method: "zitadel.user.v2.UserService/PasswordReset", protocol: "rest", status: "ok" });
  });
});

describe("the other annotated methods", () => {
  it("POST /v2/users/human, GET and DELETE /v2/users/{id}", async () => {
    const userId = await addUser();
    const got = await curl(`/v2/users/${userId}`, ...auth());
    expect(got.status).toBe(200);
    expect(got.body.user).toMatchObject({ userId, human: { profile: { givenName: "Ada" } } });

    const deleted = await curl(`/v2/users/${userId}`, "-X", "DELETE", ...auth());
    expect(deleted.status).toBe(200);
    expect(deleted.body.details.sequence).toBe("2");

    expect((await curl(`/v2/users/${userId}`, ...auth())).status).toBe(404);
  });

  it("POST /v2/users/{id}/lock with an empty body", async () => {
    const userId = await addUser();
    const res = await curl(`/v2/users/${userId}/lock`, "-X", "POST", ...auth());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.details.sequence).toBe("2");
  });
});

describe("gateway errors", () => {
  it("an unknown path is 404", async () => {
    expectError(await curl("/v2/nothing/here", ...auth()), 404, 5, "GATEWAY-Nf3r8");
  });

  it("an unknown RPC path is the same JSON 404", async () => {
    const res = await curl("/zitadel.user.v2.UserService/Nope", "-H", "Content-Type: application/json", "-d", "{}");
    expectError(res, 404, 5, "GATEWAY-Nf3r8");
  });

  it("a known path with the wrong method is 405 with Allow", async () => {
    const res = await curl("/v2/users/123", "-X", "PUT", ...auth());
    expectError(res, 405, 12, "GATEWAY-Mn6a2");
    expect(res.headers.allow).toBe("GET, DELETE");
  });

  it("a body over the limit is 413, whether its length is announced or not", async () => {
    const file = path.join(tempDir("latchkey-body-"), "big.json");
    fs.writeFileSync(file, JSON.stringify({ returnCode: {}, pad: "x".repeat(1024 * 1024) }));
    try {
      expectError(await curl("/v2/users/1/password_reset", ...auth(), ...JSON_BODY, "--data-binary", `@${file}`), 413, 8, "GATEWAY-Bd5t9");
      const chunked = await curl("/v2/users/1/password_reset", ...auth(), ...JSON_BODY, "-H", "Transfer-Encoding: chunked", "--data-binary", `@${file}`);
      expectError(chunked, 413, 8, "GATEWAY-Bd5t9");
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it("malformed JSON is 400", async () => {
    const res = await curl("/v2/users/1/password_reset", ...auth(), ...JSON_BODY, "-d", '{"returnCode": ');
    expectError(res, 400, 3, "GATEWAY-Jx4n0");
    expect(res.body.message).toMatch(/not valid JSON/);
  });

  it("an unknown field is 400 naming it", async () => {
    const res = await curl("/v2/users/1/password_reset", ...auth(), ...JSON_BODY, "-d", '{"returnKode":{}}');
    expectError(res, 400, 3, "GATEWAY-Fq2x7");
    expect(res.body.message).toMatch(/key "returnKode" is unknown/);
  });

  it("a value of the wrong type is 400 naming the field", async () => {
    const res = await curl("/v2/users/1/password_reset", ...auth(), ...JSON_BODY, "-d", '{"sendLink":{"urlTemplate":42}}');
    expectError(res, 400, 3, "GATEWAY-Fq2x7");
    expect(res.body.message).toMatch(/url_template.*expected string, got 42/);
  });
});

describe("JSON-only bodies", () => {
  // what a browser sends cross-site without a preflight: a form, text/plain, multipart, or a body without a type
  it.each([
    { given: "a form (curl -d's default)", args: ["-d", '{"returnCode":{}}'], type: "application/x-www-form-urlencoded" },
    { given: "text/plain", args: ["-H", "Content-Type: text/plain;charset=UTF-8", "-d", '{"returnCode":{}}'], type: "text/plain" },
    { given: "multipart/form-data", args: ["-F", 'returnCode={}'], type: "multipart/form-data" },
    { given: "no content type at all", args: ["-H", "Content-Type:", "-d", '{"returnCode":{}}'], type: "none" },
    { given: "application/xml", args: ["-H", "Content-Type: application/xml", "-d", "<returnCode/>"], type: "application/xml" },
  ])("given $given, then it is 415 naming application/json and nothing is done", async ({ args, type }) => {
    const userId = await addUser();
    const res = await curl(`/v2/users/${userId}/password_reset`, ...auth(), ...args);
    expectError(res, 415, 3, "GATEWAY-Ct5j8");
    expect(res.body.message).toContain("application/json");
    expect(res.body.message).toContain(type === "none" ? "no Content-Type" : type);
    expect(res.body.details[0].message).toBe("Errors.Gateway.UnsupportedMediaType");
    // the reset did not happen: the user's next event is still its first reset
    const reset = await curl(`/v2/users/${userId}/password_reset`, ...auth(), ...JSON_BODY, "-d", '{"returnCode":{}}');
    expect(reset.body.details.sequence).toBe("2");
  });

  it.each([
    { given: "application/json with a charset", type: "application/json; charset=utf-8" },
    { given: "upper case", type: "Application/JSON" },
    { given: "a +json structured suffix", type: "application/merge-patch+json" },
  ])("given $given, then the body is read as JSON", async ({ type }) => {
    const res = await curl(`/v2/users/${await addUser()}/password_reset`, ...auth(), "-H", `Content-Type: ${type}`, "-d", '{"returnCode":{}}');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.verificationCode).toMatch(/^[A-Z0-9]{6}$/);
  });

  it("a POST with an empty body needs no content type, nor does GET or DELETE", async () => {
    const userId = await addUser();
    expect((await curl(`/v2/users/${userId}/lock`, "-X", "POST", ...auth())).status).toBe(200);
    // an empty body has nothing to misread, whatever its type says
    expect((await curl(`/v2/users/${await addUser()}/lock`, "-X", "POST", ...auth(), "-H", "Content-Type: text/plain")).status).toBe(200);
    expect((await curl(`/v2/users/${userId}`, ...auth())).status).toBe(200);
    expect((await curl(`/v2/users/${userId}`, "-X", "DELETE", ...auth())).status).toBe(200);
  });

  it("is 415 over HTTP/2 as well", async () => {
    const res = await curl("/v2/users/1/password_reset", "--http2-prior-knowledge", ...auth(), "-H", "Content-Type: text/plain", "-d", "{}");
    expectError(res, 415, 3, "GATEWAY-Ct5j8");
  });
});

describe("Cache-Control: no-store on every answer that may hold a secret", () => {
  /** The HTTP/1.1 answer's headers to a fetch. */
  async function headersOf(urlPath: string, init: RequestInit = {}): Promise<{ status: number; cacheControl: string | null }> {
    const res = await fetch(`${server.url}${urlPath}`, init);
    await res.arrayBuffer();
    return { status: res.status, cacheControl: res.headers.get("cache-control") };
  }
  const bearer = () => ({ authorization: `Bearer ${server.adminToken}` });
  /** A gRPC length-prefixed PasswordResetRequest{user_id, return_code{}}. */
  const resetFrame = (userId: string) => {
    const message = Buffer.concat([Buffer.from([0x0a, userId.length]), Buffer.from(userId), Buffer.from([0x22, 0x00])]);
    return Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
  };

  it("REST: a verification code, and an error", async () => {
    const userId = await addUser();
    const res = await curl(`/v2/users/${userId}/password_reset`, ...auth(), ...JSON_BODY, "-d", '{"returnCode":{}}');
    expect(res.body.verificationCode).toBeDefined();
    expect(res.headers["cache-control"]).toBe("no-store");
    expect((await curl("/v2/users/1/password_reset", ...auth(), ...JSON_BODY, "-d", "{")).headers["cache-control"]).toBe("no-store");
    expect((await curl("/v2/nothing", ...auth())).headers["cache-control"]).toBe("no-store");
  });

  it("Connect: a verification code, and an error", async () => {
    const userId = await addUser();
    const post = (body: string, headers: Record<string, string>) =>
      headersOf("/zitadel.user.v2.UserService/PasswordReset", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    expect(await post(JSON.stringify({ userId, returnCode: {} }), bearer())).toEqual({ status: 200, cacheControl: "no-store" });
    expect(await post(JSON.stringify({ userId, returnCode: {} }), {})).toEqual({ status: 401, cacheControl: "no-store" });
  });

  it("gRPC-web over HTTP/1.1", async () => {
    const userId = await addUser();
    const answer = await headersOf("/zitadel.user.v2.UserService/PasswordReset", {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", ...bearer() },
      body: resetFrame(userId),
    });
    expect(answer).toEqual({ status: 200, cacheControl: "no-store" });
  });

  it("gRPC over HTTP/2, answers and errors", async () => {
    const userId = await addUser();
    const session = http2.connect(server.url);
    try {
      const call = async (headers: http2.OutgoingHttpHeaders) => {
        const stream = session.request({ ":method": "POST", ":path": "/zitadel.user.v2.UserService/PasswordReset", "content-type": "application/grpc", te: "trailers", ...headers });
        const responded = once(stream, "response") as Promise<[http2.IncomingHttpHeaders]>;
        stream.end(resetFrame(userId));
        const [response] = await responded;
        stream.resume();
        await once(stream, "close");
        return response["cache-control"];
      };
      expect(await call(bearer())).toBe("no-store");
      expect(await call({})).toBe("no-store");
    } finally {
      session.close();
    }
  });

  it("the Auth0 endpoint, the hosted page, health", async () => {
    const changePassword = await headersOf("/dbconnections/change_password", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(changePassword).toEqual({ status: 400, cacheControl: "no-store" });
    expect((await headersOf("/ui/login/password/init?userID=1&code=ABCDEF&orgID=1")).cacheControl).toBe("no-store");
    expect((await headersOf("/healthz")).cacheControl).toBe("no-store");
    // the page's script and style carry no secret and are revalidated by their ETag
    expect((await headersOf("/ui/login/assets/reset.js")).cacheControl).toBe("no-cache");
  });
});

describe("GET /openapi.json", () => {
  it("serves the committed document", async () => {
    const res = await curl("/openapi.json");
    expect(res.status).toBe(200);
    const committed = JSON.parse(fs.readFileSync(new URL("../openapi/openapi.json", import.meta.url), "utf8"));
    expect(res.body).toEqual(committed);
  });
});
