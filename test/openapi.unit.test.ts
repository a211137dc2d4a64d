import fs from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { UserService } from "../gen/zitadel/user/v2/user_service_pb.js";
import { UserService as UserServiceV2beta } from "../gen/zitadel/user/v2beta/user_service_pb.js";
import { openApiDocument, openApiPath } from "../src/server/gateway/openapi.js";
import { restRoutes } from "../src/server/gateway/routes.js";

const committed = JSON.parse(fs.readFileSync(new URL("../openapi/openapi.json", import.meta.url), "utf8")) as OpenApi;

interface OpenApi {
  [key: string]: unknown;
  paths: Record<string, Record<string, { operationId: string; security?: unknown[] }>>;
  components: { schemas: Record<string, unknown> };
}

function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, v]) => (key === "$ref" && typeof v === "string" ? [v] : refsIn(v)));
}

describe("openapi/openapi.json", () => {
  it("is a valid OpenAPI document", async () => {
    const result = await new Validator().validate(structuredClone(committed));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it("every $ref points into the document", () => {
    const refs = refsIn(committed);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      const target = ref.replace(/^#\//, "").split("/").reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], committed);
      expect(target, ref).toBeDefined();
    }
  });

  it("is what `npm run generate` writes today", () => {
    expect(openApiDocument([UserService, UserServiceV2beta])).toEqual(committed);
  });

  it("has every REST route of the gateway, and nothing else", () => {
    const served = restRoutes([UserService, UserServiceV2beta]).map((r) => `${r.httpMethod} ${openApiPath(r)}`);
    const documented = Object.entries(committed.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(served.sort()).toEqual(documented.sort());
    expect(served).toContain("POST /v2/users/{userId}/password_reset");
    expect(served).toContain("POST /v2beta/users/{userId}/password_reset");
    expect(served).toHaveLength(UserService.methods.length + UserServiceV2beta.methods.length);
  });

  it("describes 64-bit integers as strings, timestamps as date-time and enums by name", () => {
    const details = committed.components.schemas["zitadel.object.v2.Details"];
    expect(details).toMatchObject({
      properties: { sequence: { type: "string" }, changeDate: { type: "string", format: "date-time" } },
    });
    expect(committed.components.schemas["zitadel.user.v2.NotificationType"]).toEqual({
      type: "string",
      enum: ["NOTIFICATION_TYPE_Unspecified", "NOTIFICATION_TYPE_Email", "NOTIFICATION_TYPE_SMS"],
    });
  });

  it("needs a bearer token except for SetPassword, where the reset code is enough", () => {
    expect(committed).toMatchObject({
      security: [{ bearerAuth: [] }],
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
    });
    expect(committed.paths["/v2/users/{userId}/password"]!.post!.security).toEqual([{}, { bearerAuth: [] }]);
    expect(committed.paths["/v2/users/{userId}/password_reset"]!.post!.security).toBeUndefined();
    expect(committed.paths["/v2beta/users/{userId}/password"]!.post!.security).toEqual([{}, { bearerAuth: [] }]);
    expect(committed.paths["/v2beta/users/{userId}/password_reset"]!.post!.security).toBeUndefined();
  });

  it("keeps v2's operation ids and names v2beta's after its version", () => {
    expect(committed.paths["/v2/users/{userId}/password_reset"]!.post!.operationId).toBe("UserService_PasswordReset");
    expect(committed.paths["/v2beta/users/{userId}/password_reset"]!.post!.operationId).toBe("UserService_v2beta_PasswordReset");
    expect(committed.components.schemas["zitadel.object.v2beta.Details"]).toEqual(committed.components.schemas["zitadel.object.v2.Details"]);
  });
});
