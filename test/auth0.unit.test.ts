import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { parseChangePassword } from "../src/auth0/request.js";
import { allowsOrigin, decideAddApplication, normalizeOrigin } from "../src/command/application/decide.js";
import { foldApplication, type ApplicationState } from "../src/command/application/events.js";
import { DEFAULT_CONNECTION, connectionNameOf, decideSetConnection } from "../src/command/org/connection.js";
import { foldOrg, type OrgState } from "../src/command/org/events.js";
import { emailLookup } from "../src/command/user/commands.js";
import type { StoredEvent } from "../src/eventstore/eventstore.js";
import { resetLink } from "../src/notification/messages.js";

const json = (body: unknown) => parseChangePassword("application/json", JSON.stringify(body));
const valid = { client_id: "abc", email: "ada@example.com", connection: DEFAULT_CONNECTION };

describe("parseChangePassword", () => {
  it("takes Auth0's fields and ignores others (auth0.js sends state and captcha)", () => {
    expect(json({ ...valid, organization: "42", state: "x", captcha: "y" })).toEqual({
      clientId: "abc",
      email: "ada@example.com",
      connection: DEFAULT_CONNECTION,
      organization: "42",
    });
    expect(json(valid)).not.toHaveProperty("organization");
  });

  it("takes a form too", () => {
    const body = new URLSearchParams(valid).toString();
    expect(parseChangePassword("application/x-www-form-urlencoded; charset=utf-8", body)).toMatchObject({ email: "ada@example.com" });
  });

  it("refuses a password, even an empty one, as Auth0 does for lock 9 and later", () => {
    expect(json({ ...valid, password: "" })).toEqual({ status: 400, error: "invalid_request", description: "password is not allowed" });
  });

  it.each([
    [{ ...valid, email: "" }, "email is required"],
    [{ client_id: "abc", email: "a@b.c" }, "connection is required"],
    [{ email: "a@b.c", connection: "c" }, "client_id is required"],
    [{ ...valid, email: 42 }, "email must be a string"],
    [{ ...valid, organization: ["1"] }, "organization must be a string"],
    [[], "the request body must be a JSON object"],
  ])("refuses %j: %s", (body, description) => {
    expect(json(body)).toEqual({ status: 400, error: "invalid_request", description });
  });

  it("refuses a body that is not JSON", () => {
    expect(parseChangePassword("application/json", "{")).toMatchObject({ status: 400, description: "the request body is not valid JSON" });
  });
});

const event = (type: string, payload: Record<string, unknown>, sequence = 1): StoredEvent => ({
  position: sequence,
  instanceId: "default",
  aggregateType: "x",
  aggregateId: "7",
  sequence,
  type,
  payload,
  createdAt: new Date(0),
  resourceOwner: "1",
  editor: "system",
});

describe("applications", () => {
  const none: ApplicationState = foldApplication([]);

  it("normalizes origins as browsers send them", () => {
    expect(normalizeOrigin("https://App.Example.com/")).toBe("https://app.example.com");
    expect(normalizeOrigin("http://127.0.0.1:3000")).toBe("http://127.0.0.1:3000");
    expect(normalizeOrigin("https://example.com:443")).toBe("https://example.com");
  });

  it.each(["example.com", "ftp://example.com", "https://example.com/app", "https://example.com/?q", "https://u:p@example.com", "*"])("refuses the origin %j", (origin) => {
    expect(() => normalizeOrigin(origin)).toThrow(expect.objectContaining({ code: Code.InvalidArgument, id: "APP-0r1g1" }));
  });

  it("records name, client id and distinct origins", () => {
    const [added] = decideAddApplication(none, { name: " Shop ", clientId: "cid", origins: ["https://a.example", "https://a.example/", "http://b.example"] });
    expect(added).toEqual({ type: "application.added", payload: { name: "Shop", clientId: "cid", origins: ["https://a.example", "http://b.example"] }, editor: "system" });
    const app = foldApplication([event(added!.type, added!.payload as Record<string, unknown>)]);
    expect(app).toMatchObject({ exists: true, id: "7", clientId: "cid", orgId: "1" });
    expect(allowsOrigin(app, "https://a.example")).toBe(true);
    expect(allowsOrigin(app, "https://c.example")).toBe(false);
  });

  it("refuses an empty name and a second add", () => {
    expect(() => decideAddApplication(none, { name: " ", clientId: "c", origins: [] })).toThrow(expect.objectContaining({ id: "APP-N4me1" }));
    const app = { ...none, exists: true };
    expect(() => decideAddApplication(app, { name: "x", clientId: "c", origins: [] })).toThrow(expect.objectContaining({ code: Code.AlreadyExists }));
  });
});

describe("connections", () => {
  const org: OrgState = foldOrg([event("org.added", { name: "acme" })]);

  it("the default organization answers to Auth0's default name until named; others have none", () => {
    expect(connectionNameOf(org, true)).toBe(DEFAULT_CONNECTION);
    expect(connectionNameOf(org, false)).toBeUndefined();
    const named = foldOrg([event("org.added", { name: "acme" }), event("org.connection.set", { name: "acme-users" }, 2)]);
    expect(connectionNameOf(named, true)).toBe("acme-users");
  });

  it("claims the new name and frees the old one", () => {
    expect(decideSetConnection(org, "acme-users", false)).toEqual({
      events: [{ type: "org.connection.set", payload: { name: "acme-users" }, editor: "system" }],
      addUnique: [{ kind: "connection", value: "acme-users" }],
      removeUnique: [],
    });
    const named = { ...org, connectionName: "acme-users" };
    expect(decideSetConnection(named, "acme", false)).toMatchObject({ removeUnique: [{ kind: "connection", value: "acme-users" }] });
    expect(decideSetConnection(named, "acme-users", false)).toEqual({ events: [] });
  });

  it("keeps the default name for the default organization and checks Auth0's name rule", () => {
    expect(() => decideSetConnection(org, DEFAULT_CONNECTION, false)).toThrow(expect.objectContaining({ code: Code.AlreadyExists }));
    expect(decideSetConnection(org, DEFAULT_CONNECTION, true).events).toHaveLength(1);
    for (const name of ["", "-acme", "acme-", "a b", "x".repeat(36)]) {
      expect(() => decideSetConnection(org, name, false)).toThrow(expect.objectContaining({ id: "CONNECTION-N4m3x" }));
    }
    expect(() => decideSetConnection({ ...org, exists: false }, "acme", false)).toThrow(expect.objectContaining({ code: Code.NotFound }));
  });
});

describe("emailLookup", () => {
  it("is per organization and lowercases only ASCII letters, as SQLite's lower() does", () => {
    expect(emailLookup("9", "Ada.Lovelace@Example.COM")).toEqual({ kind: "email", value: "9:ada.lovelace@example.com" });
    expect(emailLookup("9", "ÄDA@example.com").value).toBe("9:Äda@example.com");
  });
});

describe("resetLink", () => {
  it("adds extra query parameters to the hosted page's link, never replacing its own", () => {
    const link = resetLink({
      externalUrl: "https://login.example.com",
      userId: "1",
      orgId: "2",
      code: "ABC123",
      linkParams: { organization_id: "2", organization_name: "Acme & Co", code: "evil" },
    });
    expect(link).toBe("https://login.example.com/ui/login/password/init?userID=1&code=ABC123&orgID=2&organization_id=2&organization_name=Acme+%26+Co");
  });
});
