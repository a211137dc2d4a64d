import { Code } from "@connectrpc/connect";
import { Aggregates } from "../src/command/aggregates.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPasswordPolicies, setPasswordPolicy } from "../src/command/org/password_policy.js";
import { DEFAULT_PASSWORD_RULES } from "../src/command/password_rules/policy.js";
import { UserEvents } from "../src/command/user/events.js";
import { runCli } from "./support/cli.js";
import { allClients, clientNames, type TestClient } from "./support/clients.js";
import { addForeignOwnerToken, startTestServer, tempDir, type TestServer } from "./support/server.js";

const GOOD = "Correct-Horse-7";
const BETTER = "Battery-Staple-8";
const TTL_MS = 3600 * 1000;

let server: TestServer;
let clients: TestClient[];
let foreignOwnerToken: string;
/** the server's clock is real time plus this */
let clockOffsetMs = 0;

beforeAll(async () => {
  server = await startTestServer({ clock: () => new Date(Date.now() + clockOffsetMs) });
  clients = allClients(server.url);
  foreignOwnerToken = await addForeignOwnerToken(server);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server.close();
});

function helpers(client: () => TestClient, target: () => TestServer = () => server) {
  async function addUser(orgId?: string): Promise<string> {
    const out = await client().call(
      "addHumanUser",
      {
        profile: { givenName: "Ada", familyName: "Lovelace" },
        email: { email: `ada-${Math.random()}@example.com` },
        ...(orgId && { organization: { org: { case: "orgId", value: orgId } } }),
      },
      target().adminToken,
    );
    if (!out.ok) throw new Error(`AddHumanUser failed: ${out.message}`);
    return out.value.userId;
  }

  async function resetCode(userId: string): Promise<string> {
    const out = await client().call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, target().adminToken);
    if (!out.ok) throw new Error(`PasswordReset failed: ${out.message}`);
    return out.value.verificationCode!;
  }

  const withCode = (userId: string, code: string, password = GOOD) =>
    client().call("setPassword", { userId, newPassword: { password }, verification: { case: "verificationCode", value: code } });

  // the current password is checked for an authenticated caller only
  const withCurrent = (userId: string, current: string, password: string) =>
    client().call("setPassword", { userId, newPassword: { password }, verification: { case: "currentPassword", value: current } }, target().adminToken);

  return { addUser, resetCode, withCode, withCurrent };
}

describe.each(clientNames)("SetPassword through %s", (name) => {
  const client = () => clients.find((c) => c.name === name)!;
  const { addUser, resetCode, withCode, withCurrent } = helpers(client);

  it("the right code sets the password; the current password then works, a wrong one does not", async () => {
    const userId = await addUser();
    const code = await resetCode(userId);
    const out = await withCode(userId, code);
    expect(out.ok).toBe(true);
    if (out.ok) expect(out.value.details?.sequence).toBe(3n); // added, code added, password changed
    expect(await withCurrent(userId, GOOD, BETTER)).toMatchObject({ ok: true });
    expect(await withCurrent(userId, GOOD, BETTER)).toMatchObject({
      ok: false,
      code: Code.InvalidArgument,
      id: "COMMAND-3M0fs",
      key: "Errors.User.Password.Invalid",
    });
    expect(await withCurrent(userId, BETTER, GOOD)).toMatchObject({ ok: true });
  });

  it("the same code a second time is FailedPrecondition COMMAND-2M9fs", async () => {
    const userId = await addUser();
    const code = await resetCode(userId);
    expect((await withCode(userId, code)).ok).toBe(true);
    expect(await withCode(userId, code, BETTER)).toMatchObject({ ok: false, code: Code.FailedPrecondition, id: "COMMAND-2M9fs" });
  });

  it("a wrong code is InvalidArgument CODE-woT0xc", async () => {
    const userId = await addUser();
    const code = await resetCode(userId);
    const out = await withCode(userId, code.toLowerCase());
    expect(out).toMatchObject({ ok: false, code: Code.InvalidArgument, id: "CODE-woT0xc", key: "Errors.User.Code.Invalid" });
    if (!out.ok) expect(out.message).toMatch(/\(CODE-woT0xc\)$/);
  });

  it("an expired code is FailedPrecondition CODE-QvUQ4P", async () => {
    const userId = await addUser();
    const code = await resetCode(userId);
    clockOffsetMs = TTL_MS + 1000;
    try {
      expect(await withCode(userId, code)).toMatchObject({ ok: false, code: Code.FailedPrecondition, id: "CODE-QvUQ4P", key: "Errors.User.Code.Expired" });
    } finally {
      clockOffsetMs = 0;
    }
  });

  it("after a second reset the first code fails and the second works", async () => {
    const userId = await addUser();
    const first = await resetCode(userId);
    let second = await resetCode(userId);
    while (second === first) second = await resetCode(userId);
    expect(await withCode(userId, first)).toMatchObject({ ok: false, id: "CODE-woT0xc" });
    expect(await withCode(userId, second)).toMatchObject({ ok: true });
  });

  it("five wrong codes, then the right one is FailedPrecondition asking for a new reset", async () => {
    const userId = await addUser();
    const code = await resetCode(userId);
    for (let i = 0; i < 5; i++) expect(await withCode(userId, `WRONG${i}`)).toMatchObject({ ok: false, id: "CODE-woT0xc" });
    const out = await withCode(userId, code);
    expect(out).toMatchObject({ ok: false, code: Code.FailedPrecondition, id: "CODE-Tm4tA", key: "Errors.User.Code.TooManyAttempts" });
    if (!out.ok) expect(out.message).toMatch(/request a new password reset/i);
    // a new reset gives a working code again
    expect(await withCode(userId, await resetCode(userId))).toMatchObject({ ok: true });
  });

  it("a password against the policy names every unmet rule and leaves the code usable", async () => {
    const userId = await addUser();
    const code = await resetCode(userId);
    const out = await withCode(userId, code, "short");
    expect(out).toMatchObject({ ok: false, code: Code.InvalidArgument, id: "COMMAND-Pw7cx" });
    if (!out.ok) {
      for (const rule of ["at least 8 characters", "an uppercase letter", "a digit", "a symbol"]) expect(out.message).toContain(rule);
      expect(out.message).not.toContain("lowercase");
    }
    expect(await withCode(userId, code)).toMatchObject({ ok: true });
  });

  it("a missing new password is InvalidArgument COMMAND-Mf0sd", async () => {
    const userId = await addUser();
    const code = await resetCode(userId);
    const out = await client().call("setPassword", { userId, verification: { case: "verificationCode", value: code } });
    expect(out).toMatchObject({ ok: false, code: Code.InvalidArgument, id: "COMMAND-Mf0sd", key: "Errors.User.Password.Empty" });
  });

  it("an unknown user with a code is FailedPrecondition COMMAND-2M9fs", async () => {
    expect(await withCode("999999999999999999", "ABC123")).toMatchObject({ ok: false, code: Code.FailedPrecondition, id: "COMMAND-2M9fs" });
  });

  it("without verification: needs a token with user.write on the user", async () => {
    const userId = await addUser();
    const req = { userId, newPassword: { password: GOOD, changeRequired: true } };
    expect(await client().call("setPassword", req)).toMatchObject({ ok: false, code: Code.Unauthenticated });
    expect(await client().call("setPassword", req, foreignOwnerToken)).toMatchObject({ ok: false, code: Code.PermissionDenied, id: "AUTHZ-HKJD33" });
    expect(await client().call("setPassword", req, server.adminToken)).toMatchObject({ ok: true });
    const user = await client().call("getUserByID", { userId }, server.adminToken);
    expect(user.ok && user.value.user?.type.case === "human" && user.value.user.type.value.passwordChangeRequired).toBe(true);
    expect(await withCurrent(userId, GOOD, BETTER)).toMatchObject({ ok: true });
  });
});

describe("SetPassword beyond one call", () => {
  const client = () => clients[0]!;
  const { addUser, resetCode, withCode } = helpers(client);

  it("stores the new password as an argon2id hash in user.human.password.changed", async () => {
    const userId = await addUser();
    expect(await withCode(userId, await resetCode(userId))).toMatchObject({ ok: true });
    const events = await server.server.app.store.readAggregate({ type: "user", id: userId });
    const changed = events.find((e) => e.type === UserEvents.passwordChanged)!;
    expect(changed.payload).toEqual({
      passwordHash: expect.stringMatching(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/),
      changeRequired: false,
      audit: expect.objectContaining({ clientIp: "127.0.0.1", proof: "code" }),
    });
    expect(changed.editor).toBe(userId);
  });

  it("wrong attempts are recorded as events", async () => {
    const userId = await addUser();
    await resetCode(userId);
    await withCode(userId, "WRONG1");
    const types = (await server.server.app.store.readAggregate({ type: "user", id: userId })).map((e) => e.type);
    expect(types).toEqual([UserEvents.humanAdded, UserEvents.passwordCodeAdded, UserEvents.passwordCodeCheckFailed]);
  });

  it("an organization's own policy replaces the instance default", async () => {
    const orgId = await server.operator.addOrg("relaxed");
    await setPasswordPolicy(server.server.app.aggregates, orgId, { minLength: 4, hasUppercase: false, hasLowercase: true, hasNumber: false, hasSymbol: false });
    const userId = await addUser(orgId);
    const code = await resetCode(userId);
    const out = await withCode(userId, code, "abc");
    expect(out).toMatchObject({ ok: false, id: "COMMAND-Pw7cx" });
    if (!out.ok) expect(out.message).toContain("it needs at least 4 characters (");
    expect(await withCode(userId, code, "abcd")).toMatchObject({ ok: true });
  });

  it("the call's log line names the target user and the client address, over RPC and REST", async () => {
    const userId = await addUser();
    await resetCode(userId);
    await withCode(userId, "WRONG1", "Leaky-Password-3");
    const rest = await fetch(`${server.url}/v2/users/${userId}/password`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ newPassword: { password: "Leaky-Password-4" }, verificationCode: "WRONG2" }),
    });
    expect(rest.status).toBe(400);
    const lines = server.logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((l) => l["msg"] === "call" && l["method"] === "zitadel.user.v2.UserService/SetPassword" && l["userId"] === userId);
    expect(lines).toMatchObject([
      { clientIp: "127.0.0.1", status: "InvalidArgument" },
      { clientIp: "127.0.0.1", status: "InvalidArgument", protocol: "rest" },
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/Leaky-Password|WRONG/);
  });

  it("no log line holds a code or a password", async () => {
    const userId = await addUser();
    const code = await resetCode(userId);
    await withCode(userId, "WRONG1", "Leaky-Password-1");
    await withCode(userId, code, "Leaky-Password-2");
    const logs = server.logs.join("\n");
    expect(logs).toContain("SetPassword");
    for (const secret of [code, "Leaky-Password"]) expect(logs).not.toContain(secret);
  });
});

describe("the attempt limit", () => {
  it("is configurable and survives a restart", async () => {
    const dataDir = tempDir();
    let target = await startTestServer({ dataDir, config: { maxCodeAttempts: 3 } });
    let targetClients = allClients(target.url);
    const { addUser, resetCode, withCode } = helpers(() => targetClients[1]!, () => target);
    try {
      const userId = await addUser();
      const code = await resetCode(userId);
      expect(await withCode(userId, "WRONG1")).toMatchObject({ ok: false, id: "CODE-woT0xc" });
      expect(await withCode(userId, "WRONG2")).toMatchObject({ ok: false, id: "CODE-woT0xc" });
      await target.close();
      target = await startTestServer({ dataDir, config: { maxCodeAttempts: 3 } });
      targetClients = allClients(target.url);
      expect(await withCode(userId, "WRONG3")).toMatchObject({ ok: false, id: "CODE-woT0xc" });
      expect(await withCode(userId, code)).toMatchObject({ ok: false, code: Code.FailedPrecondition, id: "CODE-Tm4tA" });
    } finally {
      for (const c of targetClients) c.close();
      await target.close();
    }
  });
});

describe("argon2id parameters", () => {
  it("come from the configuration", async () => {
    const target = await startTestServer({ config: { argon2: { memoryKiB: 4096, iterations: 3, parallelism: 2 } } });
    const targetClients = allClients(target.url);
    const { addUser } = helpers(() => targetClients[1]!, () => target);
    try {
      const userId = await addUser();
      const out = await targetClients[1]!.call("setPassword", { userId, newPassword: { password: GOOD } }, target.adminToken);
      expect(out.ok).toBe(true);
      const events = await target.server.app.store.readAggregate({ type: "user", id: userId });
      expect(events.at(-1)?.payload["passwordHash"]).toMatch(/^\$argon2id\$v=19\$m=4096,p=2,t=3\$/);
    } finally {
      for (const c of targetClients) c.close();
      await target.close();
    }
  });
});

describe("latchkey policy set", () => {
  it("sets an organization's policy from the command line", async () => {
    const dataDir = tempDir();
    const target = await startTestServer({ dataDir });
    try {
      const orgId = await target.operator.addOrg("cli");
      const out = await runCli(["policy", "set", "--org", orgId, "--min-length", "10", "--no-symbol", "--no-uppercase", "--data-dir", dataDir]);
      expect(out).toMatchObject({ code: 0, stderr: "" });
      expect(JSON.parse(out.stdout)).toEqual({
        minLength: 10,
        hasUppercase: false,
        hasLowercase: true,
        hasNumber: true,
        hasSymbol: false,
        maxPasswordAttempts: 10,
        historyCount: 0,
        rejectCommon: false,
        rejectBreached: false,
        rejectPersonalData: false,
        minStrength: 0,
        maxAgeDays: 0,
        wordCount: 0,
      });
      expect(await readPasswordPolicies(new Aggregates(target.server.app.store), orgId)).toEqual({
        complexity: { minLength: 10, hasUppercase: false, hasLowercase: true, hasNumber: true, hasSymbol: false },
        lockout: { maxPasswordAttempts: 10 },
        rules: DEFAULT_PASSWORD_RULES,
      });
      // other organizations keep the instance defaults
      expect((await readPasswordPolicies(new Aggregates(target.server.app.store), await target.operator.addOrg("other"))).complexity.minLength).toBe(8);
      expect(await runCli(["policy", "set", "--org", "404", "--data-dir", dataDir])).toMatchObject({ code: 1 });
      expect(await runCli(["policy", "set", "--org", orgId, "--min-length", "x", "--data-dir", dataDir])).toMatchObject({ code: 2 });
    } finally {
      await target.close();
    }
  });
});
