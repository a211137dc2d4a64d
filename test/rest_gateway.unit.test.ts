import { Readable } from "node:stream";
import { Code, ConnectError, createContextKey, createContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { UserService, type PasswordResetRequest } from "../gen/zitadel/user/v2/user_service_pb.js";
import type { HttpRequest, HttpResponse } from "../src/http/io.js";
import { restGateway } from "../src/server/gateway/gateway.js";
import { requestMessage } from "../src/server/gateway/request.js";
import { compileTemplate, restRoutes, type RestRoute } from "../src/server/gateway/routes.js";

describe("path templates", () => {
  it.each([
    ["/v2/users/{user_id}", "/v2/users/123", ["123"]],
    ["/v2/users/{user_id}/password_reset", "/v2/users/1%2F2/password_reset", ["1%2F2"]],
    ["/v1/{name=shelves/*}/books", "/v1/shelves/7/books", ["shelves/7"]],
    ["/v1/{name=files/**}", "/v1/files/a/b/c", ["files/a/b/c"]],
    ["/v1/things/{id}:undelete", "/v1/things/9:undelete", ["9"]],
  ])("%s matches %s", (template, path, captures) => {
    expect(compileTemplate(template).regex.exec(path)?.slice(1)).toEqual(captures);
  });

  it.each([
    ["/v2/users/{user_id}", "/v2/users/1/2"],
    ["/v2/users/{user_id}", "/v2/users/"],
    ["/v1/{name=shelves/*}/books", "/v1/boxes/7/books"],
  ])("%s does not match %s", (template, path) => {
    expect(compileTemplate(template).regex.test(path)).toBe(false);
  });
});

describe("routes from the google.api.http options", () => {
  const routes = restRoutes([UserService]);

  it("one per annotated method, with its verb, body and path variables", () => {
    expect(routes.map((r) => `${r.httpMethod} ${r.template} body=${r.body}`)).toEqual([
      "POST /v2/users/human body=*",
      "GET /v2/users/{user_id} body=",
      "POST /v2/users/{user_id}/deactivate body=*",
      "POST /v2/users/{user_id}/reactivate body=*",
      "POST /v2/users/{user_id}/lock body=*",
      "POST /v2/users/{user_id}/unlock body=*",
      "DELETE /v2/users/{user_id} body=",
      "POST /v2/users/{user_id}/password_reset body=*",
      "POST /v2/users/{user_id}/password body=*",
    ]);
    expect(routes[1]!.variables.map((fields) => fields.map((f) => f.name))).toEqual([["user_id"]]);
  });
});

describe("request messages", () => {
  const reset = restRoutes([UserService]).find((r) => r.method.name === "PasswordReset")!;
  // PasswordReset as if it were a GET, to exercise query parameters
  const resetByQuery: RestRoute = { ...reset, httpMethod: "GET", body: "" };

  it("path variables win over the body", () => {
    const message = requestMessage(reset, '{"user_id":"from-body","returnCode":{}}', ["from-path"], new URLSearchParams());
    expect(message).toMatchObject({ userId: "from-path", medium: { case: "returnCode" } });
  });

  it("an empty body is an empty message", () => {
    const message = requestMessage(reset, "", ["1"], new URLSearchParams()) as PasswordResetRequest;
    expect(message.medium.case).toBeUndefined();
  });

  it("query parameters set nested fields by proto or JSON name, enums by name or number", () => {
    const query = new URLSearchParams("sendLink.notification_type=2&send_link.urlTemplate=https://x/{{.Code}}&cacheBuster=1");
    const message = requestMessage(resetByQuery, "", ["7"], query);
    expect(message).toMatchObject({ userId: "7", medium: { case: "sendLink", value: { notificationType: 2, urlTemplate: "https://x/{{.Code}}" } } });
  });

  it.each([
    ["{", /not valid JSON/],
    ['{"userId":1}', /expected string/],
    ['{"nope":true}', /key "nope" is unknown/],
    ['{"sendLink":{},"returnCode":{}}', /oneof set multiple times/],
    ['{"sendLink":{"notificationType":"NOTIFICATION_TYPE_Pigeon"}}', /NOTIFICATION_TYPE_Pigeon/],
  ])("body %s is InvalidArgument", (body, message) => {
    let error: unknown;
    try {
      requestMessage(reset, body, ["1"], new URLSearchParams());
    } catch (err) {
      error = err;
    }
    expect(ConnectError.from(error).message).toMatch(message);
  });
});

describe("a call through the gateway", () => {
  const userIdKey = createContextKey<string>("", { description: "test: set from the HTTP request" });

  function gatewayWith(impl: Partial<Record<string, (req: never, ctx: HandlerContext) => unknown>>, seen: string[]) {
    const named = (name: string): Interceptor => (next) => async (req) => {
      seen.push(`${name} in`);
      try {
        const res = await next(req);
        res.header.set("X-RateLimit-Limit", name);
        return res;
      } catch (err) {
        if (err instanceof ConnectError) err.metadata.set("Retry-After", "7");
        throw err;
      } finally {
        seen.push(`${name} out`);
      }
    };
    return restGateway({
      routes: (router) => router.service(UserService, impl as never),
      interceptors: [named("outer"), named("inner")],
      maxBodyBytes: 1024,
      contextValues: (req) => createContextValues().set(userIdKey, String(req.headers["x-test"])),
    });
  }

  function call(gateway: ReturnType<typeof restGateway>, path: string, body: string) {
    return new Promise<{ status: number; headers: Record<string, string>; json: Record<string, unknown> }>((resolve) => {
      const req = Object.assign(Readable.from([Buffer.from(body)]), {
        method: "POST",
        url: path,
        headers: { "content-type": "application/json", "content-length": String(body.length), "x-test": "from-http", "x-request-id": "rid-1" },
      }) as unknown as HttpRequest;
      let status = 0;
      let headers: Record<string, string> = {};
      const res = {
        writeHead(s: number, h: Record<string, string>) {
          status = s;
          headers = h;
        },
        end: (text: string) => resolve({ status, headers, json: JSON.parse(text) as Record<string, unknown> }),
      } as unknown as HttpResponse;
      expect(gateway.route(req, res)).toBe(true);
    });
  }

  it("runs the interceptors outermost first around the implementation, which gets the message, the headers and the context values", async () => {
    const seen: string[] = [];
    let got: { userId: string; value: string; requestId: string | null } | undefined;
    const gateway = gatewayWith(
      {
        passwordReset: (req: PasswordResetRequest, ctx: HandlerContext) => {
          seen.push("implementation");
          got = { userId: req.userId, value: ctx.values.get(userIdKey), requestId: ctx.requestHeader.get("x-request-id") };
          return { verificationCode: "ABC123" };
        },
      },
      seen,
    );
    const answer = await call(gateway, "/v2/users/42/password_reset", '{"returnCode":{}}');
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ verificationCode: "ABC123" });
    expect(answer.headers["X-RateLimit-Limit"]).toBe("outer");
    expect(seen).toEqual(["outer in", "inner in", "implementation", "inner out", "outer out"]);
    expect(got).toEqual({ userId: "42", value: "from-http", requestId: "rid-1" });
  });

  it("writes an error with the status of its code and the headers the interceptors put on it", async () => {
    const seen: string[] = [];
    const gateway = gatewayWith(
      {
        passwordReset: () => {
          throw new ConnectError("slow down", Code.ResourceExhausted);
        },
      },
      seen,
    );
    const answer = await call(gateway, "/v2/users/42/password_reset", '{"returnCode":{}}');
    expect(answer.status).toBe(429);
    expect(answer.json).toMatchObject({ code: Code.ResourceExhausted, message: "slow down" });
    expect(answer.headers["Retry-After"]).toBe("7");
  });

  it("answers a method without an implementation with Unimplemented", async () => {
    const answer = await call(gatewayWith({}, []), "/v2/users/42/password_reset", '{"returnCode":{}}');
    expect(answer.status).toBe(501);
    expect(answer.json).toMatchObject({ code: Code.Unimplemented });
  });
});
