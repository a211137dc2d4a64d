import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { UserService, type PasswordResetRequest } from "../gen/zitadel/user/v2/user_service_pb.js";
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
