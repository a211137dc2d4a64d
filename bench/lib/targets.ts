/** The measured calls: how each protocol's load is generated against a server, and one call of each kind before measuring. */
import path from "node:path";
import Database from "better-sqlite3";
import { create, toBinary } from "@bufbuild/protobuf";
import { NoopRequestSchema } from "../../gen/latchkey/bench/v1/bench_pb.js";
import { PasswordResetRequestSchema } from "../../gen/zitadel/user/v2/user_service_pb.js";
import { config } from "./config.js";
import { grpcFrame, h2loadPool } from "./h2load.js";
import { eventHead, type Server } from "./latchkey.js";
import type { Target } from "./measure.js";
import { grpcCall, httpCall } from "./preflight.js";
import { wrk, type Shape } from "./wrk.js";

export type Protocol = "grpc" | "connect" | "rest";
export type Call = "reset" | "noop";
export const PROTOCOLS: Protocol[] = ["grpc", "connect", "rest"];

export const GRPC_PATH: Record<Call, string> = {
  reset: "/zitadel.user.v2.UserService/PasswordReset",
  noop: "/latchkey.bench.v1.BenchService/Noop",
};

export const grpcBody: Record<Call, (userId: string) => Uint8Array> = {
  reset: (userId) =>
    grpcFrame(toBinary(PasswordResetRequestSchema, create(PasswordResetRequestSchema, { userId, medium: { case: "returnCode", value: {} } }))),
  noop: (userId) => grpcFrame(toBinary(NoopRequestSchema, create(NoopRequestSchema, { userId }))),
};

/** The load of one protocol and call against a server; `rows` is read from wherever that server writes. */
export function protocolLoad(server: Server, protocol: Protocol, call: Call, ids: readonly string[], idsFile: string, workDir: string): Target["load"] {
  if (protocol === "grpc") {
    // the no-op as PasswordReset, so that their ratio compares calls carried alike (a new connection every perProcess calls)
    return (durationMs, rate) =>
      h2loadPool({
        url: server.url,
        path: GRPC_PATH[call],
        token: server.token,
        body: grpcBody[call],
        users: ids,
        processes: config.concurrency,
        perProcess: config.grpcPerProcess,
        durationMs,
        ...(rate && { rpsPerProcess: rate / config.concurrency }),
        workDir,
      });
  }
  const shape = `${protocol}-${call}` as Shape;
  return (durationMs, rate) =>
    wrk({
      url: server.url,
      shape,
      idsFile,
      token: server.token,
      connections: rate ? config.rateConnections : config.concurrency,
      durationMs,
      ...(rate && { rate }),
    });
}

export function latchkeyTarget(server: Server, dataDir: string, protocol: Protocol, call: Call, ids: string[], idsFile: string, workDir: string): Target {
  return {
    label: `${protocol} ${call}`,
    server,
    rows: () => eventHead(dataDir),
    rowsPerCall: call === "reset" ? 1 : 0,
    users: ids.length,
    concurrency: config.concurrency,
    countsEvents: true,
    load: protocolLoad(server, protocol, call, ids, idsFile, workDir),
  };
}

/**
 * A bare connect-node server's call: the no-op writes nothing anywhere; the
 * append server's PasswordReset appends to a store of its own, which its
 * preflight checks (barePreflight).
 */
export function bareTarget(server: Server, protocol: "grpc" | "connect", call: Call, ids: string[], idsFile: string, workDir: string): Target {
  return {
    label: `${protocol} ${call}`,
    server,
    rows: () => 0,
    rowsPerCall: 0,
    users: ids.length,
    concurrency: config.concurrency,
    tags: { server: "bare" },
    load: protocolLoad(server, protocol, call, ids, idsFile, workDir),
  };
}

function verificationRows(dir: string): number {
  const db = new Database(path.join(dir, "better-auth.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], number>("SELECT count(*) FROM verification").pluck().get() ?? 0;
  } finally {
    db.close();
  }
}

export function peerTarget(server: Server, dataDir: string, emailsFile: string, users: number): Target {
  return {
    label: "peer reset",
    server,
    rows: () => verificationRows(dataDir),
    rowsPerCall: 1,
    users,
    concurrency: config.concurrency,
    load: (durationMs, rate) =>
      wrk({
        url: server.url,
        shape: "peer-reset",
        idsFile: emailsFile,
        connections: rate ? config.rateConnections : config.concurrency,
        durationMs,
        ...(rate && { rate }),
      }),
  };
}

/** One call of each kind over each protocol must succeed: the load generators count HTTP statuses, not gRPC ones. */
export async function preflight(server: Server, ids: string[], calls: readonly Call[] = ["reset", "noop"]): Promise<void> {
  const id = ids[0]!;
  for (const call of calls) {
    const g = await grpcCall(server.url, GRPC_PATH[call], server.token, grpcBody[call](id));
    if (g.status !== "0") throw new Error(`gRPC ${call} answered grpc-status ${g.status}: ${g.message}`);
  }
  const checks: [Call, string, string, (text: string) => boolean][] = [
    ["reset", `/zitadel.user.v2.UserService/PasswordReset`, JSON.stringify({ userId: id, returnCode: {} }), (t) => /verificationCode/.test(t)],
    ["noop", `/latchkey.bench.v1.BenchService/Noop`, JSON.stringify({ userId: id }), (t) => t === "{}"],
    ["reset", `/v2/users/${id}/password_reset`, `{"returnCode":{}}`, (t) => /verificationCode/.test(t)],
    ["noop", `/bench/v1/noop/${id}`, "{}", (t) => t === "{}"],
  ];
  for (const [call, p, body, ok] of checks) {
    if (!calls.includes(call)) continue;
    const r = await httpCall(server.url + p, server.token, body);
    if (r.status !== 200 || !ok(r.text)) throw new Error(`POST ${p} answered ${r.status}: ${r.text}`);
  }
}

/**
 * The bare servers serve gRPC and Connect JSON only (no REST gateway): the
 * no-op server its no-op, the append server PasswordReset, whose second call
 * for a user must come back with the next sequence (it appended).
 */
export async function barePreflight(server: Server, ids: string[], call: Call): Promise<void> {
  const id = ids[0]!;
  const g = await grpcCall(server.url, GRPC_PATH[call], server.token, grpcBody[call](id));
  if (g.status !== "0") throw new Error(`bare gRPC ${call} answered grpc-status ${g.status}: ${g.message}`);
  const json = call === "reset" ? { userId: id, returnCode: {} } : { userId: id };
  const answers: string[] = [];
  for (let i = 0; i < (call === "reset" ? 2 : 1); i++) {
    const r = await httpCall(server.url + GRPC_PATH[call], server.token, JSON.stringify(json));
    if (r.status !== 200) throw new Error(`bare Connect JSON ${call} answered ${r.status}: ${r.text}`);
    answers.push(r.text);
  }
  if (call === "noop" && answers[0] !== "{}") throw new Error(`bare Connect JSON no-op answered ${answers[0]}`);
  if (call === "reset") {
    const [first, second] = answers.map((text) => Number((JSON.parse(text) as { details?: { sequence?: string } }).details?.sequence));
    if (!(first! >= 2 && second === first! + 1)) throw new Error(`bare append did not append: ${answers.join(" then ")}`);
  }
}
