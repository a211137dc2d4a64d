/**
 * Calls without a token (SetPassword with a code) are limited per client
 * address on every protocol: Connect, gRPC, gRPC-web and REST. The server
 * trusts the loopback peer as a proxy, so X-Forwarded-For names each test's
 * client address.
 */
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ErrorDetailSchema } from "@zitadel/proto/zitadel/message_pb.js";
import { UserService } from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import { describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS } from "../src/ratelimit/rules.js";
import { addUser } from "./support/notification.js";
import { useTestServer } from "./support/server.js";

const PER_ADDRESS = 3;
const PASSWORD = "Anonymous-Limit-1";

const server = useTestServer({
  config: {
    trustedProxies: ["127.0.0.1"],
    rateLimits: { ...DEFAULT_RATE_LIMITS, anonymousPerIp: { points: PER_ADDRESS, periodSeconds: 60 } },
  },
});

interface Outcome {
  ok: boolean;
  code?: Code;
  message?: string;
  id?: string;
  status?: number;
  /** response headers, or the error's headers and trailers */
  headers: Headers;
}

type SetPassword = (userId: string, code: string, from: string, token?: string) => Promise<Outcome>;

function rpc(transport: Transport): SetPassword {
  const client = createClient(UserService, transport);
  return async (userId, code, from, token) => {
    let headers = new Headers();
    try {
      await client.setPassword(
        { userId, newPassword: { password: PASSWORD }, verification: { case: "verificationCode", value: code } },
        { headers: { "x-forwarded-for": from, ...(token && { authorization: `Bearer ${token}` }) }, onHeader: (h) => void (headers = h) },
      );
      return { ok: true, headers };
    } catch (err) {
      const error = ConnectError.from(err);
      return { ok: false, code: error.code, message: error.rawMessage, id: error.findDetails(ErrorDetailSchema)[0]?.id, headers: error.metadata };
    }
  };
}

const rest: SetPassword = async (userId, code, from, token) => {
  const res = await fetch(`${server.url}/v2/users/${userId}/password`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": from, ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ newPassword: { password: PASSWORD }, verificationCode: code }),
  });
  const body = (await res.json()) as { code?: Code; message?: string; details?: { id?: string }[] };
  if (res.ok) return { ok: true, status: res.status, headers: res.headers };
  return { ok: false, status: res.status, code: body.code!, message: body.message!, id: body.details?.[0]?.id, headers: res.headers };
};

const protocols: [string, () => SetPassword][] = [
  ["Connect JSON", () => rpc(createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }))],
  ["gRPC", () => rpc(createGrpcTransport({ baseUrl: server.url }))],
  ["gRPC-web", () => rpc(createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" }))],
  ["REST", () => rest],
];

const limitOf = (h: Headers) => ({ limit: h.get("x-ratelimit-limit"), remaining: h.get("x-ratelimit-remaining"), retryAfter: h.get("retry-after") });

/** A user with a pending reset code. */
async function userWithCode(): Promise<{ userId: string; code: string }> {
  const { userId } = await addUser(server.url, server.adminToken);
  const res = await fetch(`${server.url}/v2/users/${userId}/password_reset`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.adminToken}` },
    body: JSON.stringify({ returnCode: {} }),
  });
  const body = (await res.json()) as { verificationCode: string };
  return { userId, code: body.verificationCode };
}

const cases = protocols.map(([name, make], i) => ({ name, make, address: `198.51.100.${i + 1}`, otherAddress: `203.0.113.${i + 1}` }));

describe.each(cases)("anonymous SetPassword over $name", ({ make, address, otherAddress }) => {
  it("counts down per client address and refuses the call past the limit before it runs", async () => {
    const setPassword = make();
    const { userId, code } = await userWithCode();
    for (let i = 1; i <= PER_ADDRESS; i++) {
      const wrong = await setPassword(userId, "WRONG" + i, address);
      expect(wrong.ok).toBe(false);
      expect(wrong.code).not.toBe(Code.ResourceExhausted);
      expect(limitOf(wrong.headers)).toMatchObject({ limit: String(PER_ADDRESS), remaining: String(PER_ADDRESS - i), retryAfter: null });
      expect(Number(wrong.headers.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
    }

    // even the right code is refused now, and the refusal spent it not
    const refused = await setPassword(userId, code, address);
    expect(refused).toMatchObject({ ok: false, code: Code.ResourceExhausted, id: "RATELIMIT-An0n1" });
    expect(refused.message).toMatch(/^Too many calls without a token from this address, try again in \d+ s \(RATELIMIT-An0n1\)$/);
    if (refused.status !== undefined) expect(refused.status).toBe(429);
    expect(limitOf(refused.headers)).toMatchObject({ limit: String(PER_ADDRESS), remaining: "0" });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(60);

    // another address is counted on its own, and its call goes through
    const other = await setPassword(userId, code, otherAddress);
    expect(other.ok).toBe(true);
    expect(limitOf(other.headers)).toMatchObject({ limit: String(PER_ADDRESS), remaining: String(PER_ADDRESS - 1) });
  });

  it("does not count calls with a token, from an address past the limit", async () => {
    const setPassword = make();
    const { userId, code } = await userWithCode();
    const withToken = await setPassword(userId, code, address, server.adminToken);
    expect(withToken.ok).toBe(true);
    expect(limitOf(withToken.headers)).toMatchObject({ limit: null, remaining: null });
    // still refused without one: the call with a token gave it nothing back, took nothing either
    expect(await setPassword(userId, code, address)).toMatchObject({ ok: false, code: Code.ResourceExhausted });
  });
});

describe("the health service", () => {
  it("is not counted: probes come from one address without a token", async () => {
    for (let i = 0; i < PER_ADDRESS + 2; i++) {
      const res = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.200" },
        body: "{}",
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit")).toBeNull();
    }
  });
});
