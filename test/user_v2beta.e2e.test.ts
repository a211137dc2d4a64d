/**
 * zitadel.user.v2beta.UserService, the edition ZITADEL's Node SDK speaks:
 * through @zitadel/node's own client, unchanged; on every protocol with the
 * answers and errors of v2; over REST under /v2beta/; through buf curl with
 * nothing but reflection; and counted against v2's rate limits.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createAccessTokenInterceptor, createUserClient } from "@zitadel/node/dist/api/index.js";
import { UserState } from "@zitadel/node/dist/api/generated/zitadel/user/v2beta/user.js";
import { UserService } from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import { UserService as UserServiceV2beta } from "@zitadel/proto/zitadel/user/v2beta/user_service_pb.js";
import { NotificationType } from "@zitadel/proto/zitadel/user/v2beta/password_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";
import { allClients, clientNames, type Outcome, type TestClient } from "./support/clients.js";
import { addUser } from "./support/notification.js";
import { startTestServer, useTestServer, type TestServer } from "./support/server.js";

const repositoryRoot = fileURLToPath(new URL("..", import.meta.url));
const bufBinary = path.join(repositoryRoot, "node_modules", ".bin", "buf");
const TIMEOUT = 60_000;
const NEW_PASSWORD = "Correct-Horse-Battery-9!";


const server = useTestServer();

const email = (what: string) => `${what}-${Math.random().toString(36).slice(2)}@example.com`;

/** What nice-grpc's ClientError carries. */
interface SdkError {
  code: number;
  details: string;
}

async function sdkError(call: Promise<unknown>): Promise<SdkError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e as SdkError,
  );
  if (err === undefined) throw new Error("the call succeeded");
  return { code: err.code, details: err.details };
}

/** The v2 edition, through ZITADEL's published schema: the reference the SDK's answers are held against. */
function v2Client(token?: string) {
  const client = createClient(UserService, createGrpcTransport({ baseUrl: server.url }));
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    getUserByID: (userId: string) => client.getUserByID({ userId }, { headers }),
    setPasswordWithCurrent: (userId: string, current: string) =>
      client.setPassword({ userId, newPassword: { password: NEW_PASSWORD + "x" }, verification: { case: "currentPassword", value: current } }, { headers }),
  };
}

async function v2Error(call: Promise<unknown>): Promise<SdkError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (err === undefined) throw new Error("the call succeeded");
  return { code: err.code, details: err.rawMessage };
}

describe("ZITADEL's Node SDK: createUserClient of @zitadel/node, unchanged", () => {
  it("creates a user, gets a code with PasswordReset and sets the password with it, without a token", async () => {
    const client = createUserClient(server.url, createAccessTokenInterceptor(server.adminToken));
    const added = await client.addHumanUser({ profile: { givenName: "Ada", familyName: "Lovelace" }, email: { email: email("sdk"), isVerified: true } });
    expect(added.userId).toMatch(/^\d+$/);
    expect(added.details?.sequence.toString()).toBe("1");

    const reset = await client.passwordReset({ userId: added.userId, returnCode: {} });
    expect(reset.details?.sequence.toString()).toBe("2");
    expect(reset.verificationCode).toMatch(/^[A-Z0-9]{6}$/);

    // holding the code is enough: a client with no interceptor sends no token
    const anonymous = createUserClient(server.url);
    const set = await anonymous.setPassword({
      userId: added.userId,
      newPassword: { password: NEW_PASSWORD, changeRequired: false },
      verificationCode: reset.verificationCode!,
    });
    expect(set.details?.sequence.toString()).toBe("3");

    // the password is the one set: v2 accepts it as the current password
    await v2Client(server.adminToken).setPasswordWithCurrent(added.userId, NEW_PASSWORD);

    const { user } = await client.getUserByID({ userId: added.userId });
    expect(user?.state).toBe(UserState.USER_STATE_ACTIVE);
    expect(user?.human?.passwordChanged).toBeInstanceOf(Date);
    expect(user?.human?.email).toEqual({ email: user?.username, isVerified: true });
  });

  it("locks, deactivates, unlocks, reactivates and deletes users; a deleted user is NOT_FOUND with v2's error", async () => {
    const client = createUserClient(server.url, createAccessTokenInterceptor(server.adminToken));
    const add = async () => (await client.addHumanUser({ profile: { givenName: "A", familyName: "B" }, email: { email: email("sdk-state") } })).userId;
    const [locked, deactivated, deleted] = [await add(), await add(), await add()];

    await client.lockUser({ userId: locked });
    expect((await client.getUserByID({ userId: locked })).user?.state).toBe(UserState.USER_STATE_LOCKED);
    await client.deactivateUser({ userId: deactivated });
    expect((await client.getUserByID({ userId: deactivated })).user?.state).toBe(UserState.USER_STATE_INACTIVE);
    await client.deleteUser({ userId: deleted });

    await client.unlockUser({ userId: locked });
    expect((await client.getUserByID({ userId: locked })).user?.state).toBe(UserState.USER_STATE_ACTIVE);
    await client.reactivateUser({ userId: deactivated });
    expect((await client.getUserByID({ userId: deactivated })).user?.state).toBe(UserState.USER_STATE_ACTIVE);

    const error = await sdkError(client.getUserByID({ userId: deleted }));
    expect(error.code).toBe(Code.NotFound);
    expect(error).toEqual(await v2Error(v2Client(server.adminToken).getUserByID(deleted)));
  });

  it("without a token PasswordReset is UNAUTHENTICATED, as on v2", async () => {
    const anonymous = createUserClient(server.url);
    const { userId } = await addUser(server.url, server.adminToken);
    const error = await sdkError(anonymous.passwordReset({ userId, returnCode: {} }));
    expect(error).toEqual({ code: Code.Unauthenticated, details: "Authorization header with a bearer token is required (AUTH-x7Bq3)" });
  });
});

describe("every protocol answers v2beta as it answers v2", () => {
  type Step = (client: TestClient, userId: string) => Promise<Outcome<unknown>>;
  const steps: [string, Step][] = [
    ["GetUserByID of an unknown user", (c) => c.call("getUserByID", { userId: "no-such-user" }, server.adminToken)],
    ["AddHumanUser without a given name", (c) => c.call("addHumanUser", { profile: { givenName: "", familyName: "B" }, email: { email: email("bad") } }, server.adminToken)],
    ["PasswordReset without a token", (c, userId) => c.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } })],
    ["PasswordReset with a token that is not one", (c, userId) => c.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, "not-a-token")],
    ["SetPassword with a wrong code", (c, userId) => c.call("setPassword", { userId, newPassword: { password: NEW_PASSWORD }, verification: { case: "verificationCode", value: "WRONG1" } })],
    ["LockUser twice", async (c, userId) => (await c.call("lockUser", { userId }, server.adminToken), c.call("lockUser", { userId }, server.adminToken))],
  ];

  /** Errors whole; answers by what does not depend on the user. */
  const comparable = (outcome: Outcome<unknown>) => (outcome.ok ? { ok: true } : outcome);

  const protocols = clientNames.map((name, i) => [name, i] as const);

  it.each(protocols)("%s", async (_name, i) => {
    const v2 = allClients(server.url, UserService)[i]!;
    const v2beta = allClients(server.url, UserServiceV2beta)[i]!;
    try {
      for (const [what, step] of steps) {
        const [a, b] = [(await addUser(server.url, server.adminToken)).userId, (await addUser(server.url, server.adminToken)).userId];
        const [onV2, onV2beta] = [await step(v2, a), await step(v2beta, b)];
        expect(onV2.ok, what).toBe(false);
        expect(comparable(onV2beta), what).toEqual(comparable(onV2));
      }
      // and a whole reset: the code from v2beta's PasswordReset sets the password through v2beta's SetPassword
      const { userId } = await addUser(server.url, server.adminToken);
      const reset = await v2beta.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, server.adminToken);
      if (!reset.ok) throw new Error(`PasswordReset failed: ${reset.message}`);
      const set = await v2beta.call("setPassword", {
        userId,
        newPassword: { password: NEW_PASSWORD },
        verification: { case: "verificationCode", value: reset.value.verificationCode! },
      });
      expect(set.ok && set.value.details?.sequence).toBe(3n);
    } finally {
      v2.close();
      v2beta.close();
    }
  });
});

describe("REST under /v2beta/", () => {
  const rest = async (method: string, urlPath: string, body?: object, token: string | undefined = server.adminToken) => {
    const res = await fetch(`${server.url}${urlPath}`, {
      method,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body && { "content-type": "application/json" }) },
      ...(body && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it("POST users/human, POST password_reset with returnCode, POST password with the code and no token, GET the user", async () => {
    const added = await rest("POST", "/v2beta/users/human", { profile: { givenName: "A", familyName: "B" }, email: { email: email("rest") } });
    expect(added.status).toBe(200);
    const { userId } = added.body as { userId: string };
    const reset = await rest("POST", `/v2beta/users/${userId}/password_reset`, { returnCode: {} });
    expect(reset).toMatchObject({ status: 200, body: { details: { sequence: "2" }, verificationCode: expect.stringMatching(/^[A-Z0-9]{6}$/) } });
    const set = await rest("POST", `/v2beta/users/${userId}/password`, { newPassword: { password: NEW_PASSWORD }, verificationCode: reset.body.verificationCode }, undefined);
    expect(set).toMatchObject({ status: 200, body: { details: { sequence: "3" } } });
    const got = await rest("GET", `/v2beta/users/${userId}`);
    expect(got).toMatchObject({ status: 200, body: { user: { userId, state: "USER_STATE_ACTIVE", human: { passwordChanged: expect.any(String) } } } });
  });

  it.each([
    ["GET", "/users/no-such-user", undefined],
    ["POST", "/users/human", { profile: { givenName: "A" }, email: { email: "not an address" } }],
    ["POST", "/users/no-such-user/password_reset", { sendLink: { notificationType: NotificationType.SMS } }],
  ])("%s %s: the same status and JSON error as under /v2/", async (method, urlPath, body) => {
    const [onV2, onV2beta] = [await rest(method, `/v2${urlPath}`, body), await rest(method, `/v2beta${urlPath}`, body)];
    expect(onV2.status).toBeGreaterThanOrEqual(400);
    expect(onV2beta).toEqual(onV2);
  });

  it("GET /openapi.json is the committed document, with the /v2beta/ paths", async () => {
    const committed = JSON.parse(fs.readFileSync(new URL("../openapi/openapi.json", import.meta.url), "utf8")) as { paths: object };
    const served = await rest("GET", "/openapi.json");
    expect(served).toEqual({ status: 200, body: committed });
    expect(Object.keys(committed.paths)).toContain("/v2beta/users/{userId}/password_reset");
  });
});

describe("buf curl with nothing but reflection", () => {
  it(
    "calls zitadel.user.v2beta.UserService/PasswordReset over gRPC",
    async () => {
      const { userId } = await addUser(server.url, server.adminToken);
      const args = ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", `Authorization: Bearer ${server.adminToken}`];
      args.push("-d", JSON.stringify({ userId, returnCode: {} }), `${server.url}/zitadel.user.v2beta.UserService/PasswordReset`);
      // run from the data directory, where no proto file is to be found
      const { stdout } = await promisify(execFile)(bufBinary, args, { cwd: server.dataDir, timeout: TIMEOUT });
      expect(JSON.parse(stdout)).toMatchObject({ details: { sequence: "2" }, verificationCode: expect.stringMatching(/^[A-Z0-9]{6}$/) });
    },
    TIMEOUT,
  );
});

describe("health", () => {
  it("Check of zitadel.user.v2beta.UserService is SERVING", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    expect((await health.check({ service: "zitadel.user.v2beta.UserService" })).status).toBe(Status.SERVING);
  });
});

describe("rate limits count v2beta's PasswordReset with v2's", () => {
  let limited: TestServer;

  beforeAll(async () => {
    limited = await startTestServer({
      config: { rateLimits: { enabled: true, resetPerUser: { points: 1, periodSeconds: 3600 }, resetPerToken: { points: 3, periodSeconds: 3600 } } },
    });
  }, TIMEOUT);

  afterAll(async () => {
    await limited?.close();
  });

  async function newToken(): Promise<string> {
    const orgId = (await addUser(limited.url, limited.adminToken)).orgId;
    const botId = await limited.operator.addMachineUser(orgId, `bot-${Math.random().toString(36).slice(2)}`, "IAM_OWNER");
    return limited.operator.addToken(botId);
  }

  const reset = (service: typeof UserService | typeof UserServiceV2beta, token: string, userId: string, medium: "returnCode" | "sendLink") => {
    const [client] = allClients(limited.url, service);
    const value = medium === "returnCode" ? { case: medium, value: {} } : { case: medium, value: { notificationType: NotificationType.Email } };
    return client!.call("passwordReset", { userId, medium: value as never }, token);
  };

  it("per token: one budget for both editions, reported in the v2beta response's headers", async () => {
    const token = await newToken();
    const { userId } = await addUser(limited.url, limited.adminToken);
    const first = await reset(UserServiceV2beta, token, userId, "returnCode");
    expect(first.ok && first.headers.get("x-ratelimit-remaining")).toBe("2");
    expect((await reset(UserService, token, userId, "returnCode")).ok).toBe(true);
    expect((await reset(UserServiceV2beta, token, userId, "returnCode")).ok).toBe(true);
    for (const service of [UserServiceV2beta, UserService]) {
      const refused = await reset(service, token, userId, "returnCode");
      expect(refused).toMatchObject({ ok: false, code: Code.ResourceExhausted, id: "RATELIMIT-Rs7q1" });
    }
  });

  it("per user: a message sent through v2beta counts against the user on v2 and the other way round", async () => {
    const token = await newToken();
    const [a, b] = [(await addUser(limited.url, limited.adminToken)).userId, (await addUser(limited.url, limited.adminToken)).userId];
    expect((await reset(UserServiceV2beta, token, a, "sendLink")).ok).toBe(true);
    expect(await reset(UserService, token, a, "sendLink")).toMatchObject({ ok: false, code: Code.ResourceExhausted });
    expect((await reset(UserService, token, b, "sendLink")).ok).toBe(true);
    expect(await reset(UserServiceV2beta, await newToken(), b, "sendLink")).toMatchObject({ ok: false, code: Code.ResourceExhausted });
  });
});
