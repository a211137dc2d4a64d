/**
 * The hosted page checks the link's code on the server before it shows
 * anything about the user: a wrong code counts as one, and the page for it is
 * the same as for a user who does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setPasswordPolicy } from "../src/command/org/password_policy.js";
import { UserEvents } from "../src/command/user/events.js";
import { allClients, type TestClient } from "./support/clients.js";
import { startTestServer, type TestServer } from "./support/server.js";

let server: TestServer;
let clients: TestClient[];
let orgId: string;

beforeAll(async () => {
  server = await startTestServer();
  clients = allClients(server.url);
  orgId = await server.operator.addOrg("long-passwords");
  await setPasswordPolicy(server.server.app.aggregates, orgId, { minLength: 14, hasUppercase: true, hasLowercase: true, hasNumber: true, hasSymbol: false });
});

afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await server?.close();
});

async function userWithCode(): Promise<{ userId: string; code: string }> {
  const client = clients[1]!;
  const added = await client.call(
    "addHumanUser",
    { profile: { givenName: "Ada", familyName: "Lovelace" }, email: { email: `ada-${Math.random()}@example.com` }, organization: { org: { case: "orgId", value: orgId } } },
    server.adminToken,
  );
  if (!added.ok) throw new Error(added.message);
  const reset = await client.call("passwordReset", { userId: added.value.userId, medium: { case: "returnCode", value: {} } }, server.adminToken);
  if (!reset.ok) throw new Error(reset.message);
  return { userId: added.value.userId, code: reset.value.verificationCode! };
}

async function page(userId: string, code: string): Promise<{ status: number; html: string }> {
  const res = await fetch(`${server.url}/ui/login/password/init?${new URLSearchParams({ userID: userId, code, orgID: orgId })}`);
  return { status: res.status, html: await res.text() };
}

const wrongFor = (code: string) => (code === "AAAAAA" ? "BBBBBB" : "AAAAAA");
const typesOf = async (userId: string) => (await server.server.app.store.readAggregate({ type: "user", id: userId })).map((e) => e.type);

describe("the hosted page's link check", () => {
  it("a valid link shows the organization's policy and the form, and records nothing", async () => {
    const { userId, code } = await userWithCode();
    const before = await typesOf(userId);
    const { status, html } = await page(userId, code);
    expect(status).toBe(200);
    expect(html).toContain('minlength="14"');
    expect(html).toContain("at least 14 characters");
    expect(html).toContain('id="reset-form"');
    expect(await typesOf(userId)).toEqual(before);
  });

  it("a wrong code shows no policy, the same page as an unknown user, and counts as a wrong code", async () => {
    const { userId, code } = await userWithCode();
    const wrong = await page(userId, wrongFor(code));
    const unknown = await page("404404404404404404", wrongFor(code));
    expect(wrong.status).toBe(200);
    expect(wrong.html).not.toContain("minlength");
    expect(wrong.html).not.toContain("at least");
    expect(wrong.html).not.toContain('id="reset-form"');
    expect(wrong.html).toContain("This reset link is not valid");
    expect(wrong.html).toBe(unknown.html);

    const events = await server.server.app.store.readAggregate({ type: "user", id: userId });
    expect(events.at(-1)).toMatchObject({ type: UserEvents.passwordCodeCheckFailed, payload: { audit: { clientIp: "127.0.0.1" } } });
  });

  it("is no free oracle: after five wrong codes the right one no longer opens the form", async () => {
    const { userId, code } = await userWithCode();
    for (let i = 0; i < 5; i++) expect((await page(userId, `WRONG${i}`)).html).not.toContain("minlength");
    expect(await typesOf(userId)).toContain(UserEvents.passwordCodeInvalidated);
    const after = await page(userId, code);
    expect(after.html).not.toContain("minlength");
    expect(after.html).toBe((await page("404404404404404404", code)).html);
  });

  it("an expired or used link shows the same page", async () => {
    const { userId, code } = await userWithCode();
    const set = await clients[0]!.call("setPassword", {
      userId,
      newPassword: { password: "Long-Enough-Password-1" },
      verification: { case: "verificationCode", value: code },
    });
    expect(set.ok).toBe(true);
    expect((await page(userId, code)).html).toBe((await page("404404404404404404", code)).html);
  });
});
