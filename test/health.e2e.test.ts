/** Health through a gRPC client, buf curl and plain curl, while the store is ready and when it is not. */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";
import { ErrorDetailSchema } from "../gen/zitadel/v1/message_pb.js";
import { TEST_BACKEND } from "./support/backend.js";
import { startTestServer, type TestServer } from "./support/server.js";

const bufBinary = path.join(fileURLToPath(new URL("..", import.meta.url)), "node_modules", ".bin", "buf");
const TIMEOUT = 60_000;

let server: TestServer;
let health: ReturnType<typeof createClient<typeof Health>>;

beforeAll(async () => {
  server = await startTestServer();
  health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
});

afterAll(async () => {
  await server?.close();
});

async function curl(urlPath: string, ...args: string[]): Promise<{ status: number; body: unknown }> {
  const { stdout } = await promisify(execFile)("curl", ["-s", "-w", "\n%{http_code}", ...args, `${server.url}${urlPath}`]);
  const [body, status] = [stdout.slice(0, stdout.lastIndexOf("\n")), stdout.slice(stdout.lastIndexOf("\n") + 1)];
  return { status: Number(status), body: body === "" ? undefined : JSON.parse(body) };
}

describe("while the store is ready", () => {
  it.each(["", "zitadel.user.v2.UserService", "zitadel.user.v2beta.UserService"])("Check(%j) over gRPC, without a token, is SERVING", async (service) => {
    expect((await health.check({ service })).status).toBe(Status.SERVING);
  });

  it("Check of an unknown service is NOT_FOUND with an ErrorDetail", async () => {
    const error = await health.check({ service: "no.such.Service" }).catch((err: unknown) => ConnectError.from(err));
    expect(error).toBeInstanceOf(ConnectError);
    const connectError = error as ConnectError;
    expect(connectError.code).toBe(Code.NotFound);
    expect(connectError.findDetails(ErrorDetailSchema)[0]?.id).toBe("HEALTH-s8Kd2");
  });

  it("List reports the server and both editions of the UserService", async () => {
    const { statuses } = await health.list({});
    expect(Object.fromEntries(Object.entries(statuses).map(([k, v]) => [k, v.status]))).toEqual({
      "": Status.SERVING,
      "zitadel.user.v2.UserService": Status.SERVING,
      "zitadel.user.v2beta.UserService": Status.SERVING,
    });
  });

  it("Watch of an unknown service says SERVICE_UNKNOWN and stays open", async () => {
    const abort = new AbortController();
    const stream = health.watch({ service: "no.such.Service" }, { signal: abort.signal });
    const first = await stream[Symbol.asyncIterator]().next();
    abort.abort();
    expect(first.value?.status).toBe(Status.SERVICE_UNKNOWN);
  });

  it(
    "buf curl calls Check through reflection",
    async () => {
      const { stdout } = await promisify(execFile)(bufBinary, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", `${server.url}/grpc.health.v1.Health/Check`], { timeout: TIMEOUT });
      expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
    },
    TIMEOUT,
  );

  it("GET /healthz and /readyz are 200; /readyz names the database", async () => {
    expect(server.server.app.database).toBe(TEST_BACKEND === "postgres" ? "postgresql" : "sqlite");
    expect(await curl("/healthz")).toEqual({ status: 200, body: { status: "ok" } });
    expect(await curl("/readyz")).toEqual({ status: 200, body: { status: "ok", database: { kind: server.server.app.database, ready: true } } });
  });

  it("POST /healthz is 405", async () => {
    const res = await curl("/healthz", "-X", "POST");
    expect(res).toMatchObject({ status: 405, body: { code: Code.Unimplemented } });
  });
});

describe("when the store stops being ready", () => {
  it(
    "Watch streams SERVING, then NOT_SERVING; /readyz turns 503 while /healthz stays 200",
    async () => {
      const store = server.server.app.store;
      const ready = store.ready;
      const abort = new AbortController();
      const seen: Status[] = [];
      try {
        for await (const res of health.watch({ service: "" }, { signal: abort.signal })) {
          seen.push(res.status);
          if (seen.length === 1) store.ready = async () => false;
          if (seen.length === 2) break;
        }
        expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
        expect((await health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
        expect(await curl("/readyz")).toEqual({ status: 503, body: { status: "unavailable", database: { kind: server.server.app.database, ready: false } } });
        expect(await curl("/healthz")).toEqual({ status: 200, body: { status: "ok" } });
      } finally {
        abort.abort();
        store.ready = ready;
      }
    },
    TIMEOUT,
  );
});
