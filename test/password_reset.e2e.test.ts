import { Code } from "@connectrpc/connect";
import { NotificationType } from "@zitadel/proto/zitadel/user/v2/password_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allClients, clientNames, type TestClient } from "./support/clients.js";
import { addForeignOwnerToken, startTestServer, type TestServer } from "./support/server.js";

let server: TestServer;
let clients: TestClient[];
let foreignOwnerToken: string;

beforeAll(async () => {
  server = await startTestServer();
  clients = allClients(server.url);
  foreignOwnerToken = await addForeignOwnerToken(server);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server.close();
});

describe.each(clientNames)("PasswordReset through %s", (name) => {
  const client = () => clients.find((c) => c.name === name)!;
  let orgId: string;

  async function addUser(): Promise<string> {
    const out = await client().call(
      "addHumanUser",
      { profile: { givenName: "Ada", familyName: "Lovelace" }, email: { email: `ada-${Math.random()}@example.com` } },
      server.adminToken,
    );
    if (!out.ok) throw new Error(`AddHumanUser failed: ${out.message}`);
    orgId = out.value.details!.resourceOwner;
    return out.value.userId;
  }

  async function reset(userId: string, medium: object, token: string | null = server.adminToken) {
    return client().call("passwordReset", { userId, ...medium }, token ?? undefined);
  }

  it("no medium: the first reset of a fresh user has sequence 2 in the user's organization", async () => {
    const userId = await addUser();
    const out = await reset(userId, {});
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.value.details?.sequence).toBe(2n);
    expect(out.value.details?.resourceOwner).toBe(orgId);
    expect(out.value.details?.changeDate).toBeDefined();
    expect(out.value.details?.creationDate).toBeDefined();
    expect(out.value.verificationCode).toBeUndefined();
  });

  it.each([
    ["{{ }} form", "https://example.com/password/changey?userID={{.UserID}}&code={{.Code}}&orgID={{.OrgID}}"],
    ["<< >> form", "https://example.com/reset?u=<<.UserID>>&c=<< .Code >>&o=<<.OrgID>>"],
  ])("send_link with a template in the %s", async (_form, urlTemplate) => {
    const userId = await addUser();
    const out = await reset(userId, { medium: { case: "sendLink", value: { notificationType: NotificationType.Email, urlTemplate } } });
    expect(out.ok && out.value.details?.sequence).toBe(2n);
    if (out.ok) expect(out.value.verificationCode).toBeUndefined();
  });

  it.each([["{{"], ["{{.Foo}}"]])("template %s is InvalidArgument DOMAIN-oGh5e, even for an unknown user", async (urlTemplate) => {
    const out = await reset("999999999999999999", { medium: { case: "sendLink", value: { urlTemplate } } });
    expect(out).toMatchObject({ ok: false, code: Code.InvalidArgument, id: "DOMAIN-oGh5e", key: "Errors.User.InvalidURLTemplate" });
    if (!out.ok) expect(out.message).toMatch(/\(DOMAIN-oGh5e\)$/);
  });

  it("a javascript: template is InvalidArgument", async () => {
    const userId = await addUser();
    const out = await reset(userId, { medium: { case: "sendLink", value: { urlTemplate: "javascript:alert('{{.Code}}')" } } });
    expect(out).toMatchObject({ ok: false, code: Code.InvalidArgument, key: "Errors.User.InvalidURLTemplate" });
  });

  it("return_code returns 6 characters from A-Z0-9", async () => {
    const userId = await addUser();
    const out = await reset(userId, { medium: { case: "returnCode", value: {} } });
    expect(out.ok).toBe(true);
    if (out.ok) expect(out.value.verificationCode).toMatch(/^[A-Z0-9]{6}$/);
  });

  it("an unknown user is NotFound COMMAND-SAF4f", async () => {
    const out = await reset("999999999999999999", {});
    expect(out).toMatchObject({ ok: false, code: Code.NotFound, id: "COMMAND-SAF4f", key: "Errors.User.NotFound" });
    if (!out.ok) expect(out.message).toBe("User could not be found (COMMAND-SAF4f)");
  });

  it("a deleted user is NotFound", async () => {
    const userId = await addUser();
    expect((await client().call("deleteUser", { userId }, server.adminToken)).ok).toBe(true);
    expect(await reset(userId, {})).toMatchObject({ ok: false, code: Code.NotFound, id: "COMMAND-SAF4f" });
  });

  it("no token is Unauthenticated", async () => {
    const userId = await addUser();
    expect(await reset(userId, {}, null)).toMatchObject({ ok: false, code: Code.Unauthenticated });
  });

  it("an unknown token is Unauthenticated", async () => {
    const userId = await addUser();
    expect(await reset(userId, {}, "not-a-real-token")).toMatchObject({ ok: false, code: Code.Unauthenticated });
  });

  it("an ORG_OWNER of another organization is PermissionDenied", async () => {
    const userId = await addUser();
    expect(await reset(userId, {}, foreignOwnerToken)).toMatchObject({ ok: false, code: Code.PermissionDenied, id: "AUTHZ-HKJD33" });
  });

  it("the sequence grows by one per reset", async () => {
    const userId = await addUser();
    const sequences: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const out = await reset(userId, { medium: { case: "returnCode", value: {} } });
      if (out.ok) sequences.push(out.value.details!.sequence);
    }
    expect(sequences).toEqual([2n, 3n, 4n]);
  });

  it("an empty user id is InvalidArgument naming the field", async () => {
    const out = await reset("", {});
    expect(out).toMatchObject({ ok: false, code: Code.InvalidArgument });
    if (!out.ok) expect(out.message).toContain("user_id");
  });
});
