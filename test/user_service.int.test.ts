/**
 * The in-process level: the real services, interceptors and commands on a real
 * SQLite file, called through Connect's router transport: no socket, no HTTP.
 * Between the pure rules (unit) and whole servers (e2e).
 */
import fs from "node:fs";
import { Writable } from "node:stream";
import { Code, createRouterTransport } from "@connectrpc/connect";
import { UserService } from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../src/config.js";
import { argon2idHasher } from "../src/crypto/passwords.js";
import { createLogger } from "../src/logger.js";
import { openApp, type App } from "../src/server/app.js";
import { rpcInterceptors, rpcRoutes } from "../src/server/rpc.js";
import { connectClient, type TestClient } from "./support/clients.js";
import { CHEAP_ARGON2 } from "./support/hashers.js";
import { tempDir } from "./support/server.js";

let app: App;
let client: TestClient;
let adminToken: string;
let dataDir: string;
const logs: string[] = [];

beforeAll(async () => {
  dataDir = tempDir();
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = createLogger({ destination });
  const config = { ...defaultConfig(), dataDir, externalUrl: "http://localhost:8080" };
  app = await openApp(config, logger, { hasher: argon2idHasher(CHEAP_ARGON2), runNotifier: false });
  adminToken = fs.readFileSync(app.adminTokenFile, "utf8").trim();
  const transport = createRouterTransport(rpcRoutes(app), { router: { interceptors: rpcInterceptors(app, logger) } });
  client = connectClient("in-process router", transport, UserService);
});

afterAll(async () => {
  await app?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("UserService in process, on a SQLite file", () => {
  let userId: string;
  let orgId: string;
  let code: string;

  it("adds a user with the admin token", async () => {
    const added = await client.call("addHumanUser", { profile: { givenName: "Grace", familyName: "Hopper" }, email: { email: "grace@example.com" } }, adminToken);
    expect(added.ok).toBe(true);
    if (!added.ok) return;
    userId = added.value.userId;
    orgId = added.value.details!.resourceOwner;
    expect(userId).not.toBe("");
  });

  it("refuses PasswordReset without a token", async () => {
    expect(await client.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } })).toMatchObject({ ok: false, code: Code.Unauthenticated });
  });

  it("returns a reset code, with details from the event store", async () => {
    const reset = await client.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, adminToken);
    expect(reset.ok).toBe(true);
    if (!reset.ok) return;
    code = reset.value.verificationCode!;
    expect(code).toMatch(/^[A-Z0-9]{6,}$/);
    expect(reset.value.details).toMatchObject({ resourceOwner: orgId });
    expect(reset.value.details!.sequence).toBeGreaterThan(1n);
  });

  it("sets the password with the code, anonymously, once", async () => {
    const set = await client.call("setPassword", { userId, newPassword: { password: "Quartz-Lantern-Fjord-91" }, verification: { case: "verificationCode", value: code } });
    expect(set.ok).toBe(true);
    const again = await client.call("setPassword", { userId, newPassword: { password: "Quartz-Lantern-Fjord-92" }, verification: { case: "verificationCode", value: code } });
    expect(again).toMatchObject({ ok: false, code: Code.FailedPrecondition, id: "COMMAND-2M9fs" });
  });

  it("writes neither the code nor the password to the log", () => {
    const text = logs.join("");
    expect(text).not.toContain(code);
    expect(text).not.toContain("Quartz-Lantern-Fjord");
  });
});
