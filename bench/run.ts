/**
 * `npm run bench`: PasswordReset (return_code) against latchkey's own no-op
 * ceiling and against better-auth, over gRPC (h2load), Connect JSON and REST
 * (wrk), server on core 0 and load generators on core 1. See BENCHMARKS.md.
 *
 *   npm run bench                      1,000 users, 3 rounds of 10 s
 *   npm run bench -- --scale           also 1,000,000 users (seeded into SQLite directly)
 *   npm run bench -- --profile         also a CPU profile of the server under gRPC PasswordReset
 *   npm run bench -- --quick           1 round of 3 s: to check the harness, not to quote
 *   npm run bench -- --workers-only    only the --workers block: PasswordReset with --workers 1
 *                                      (core 0) and --workers 2 (cores 0,1), load generator on core 1
 *
 * Other flags: --duration S, --warmup S, --rounds N, --users N, --big-users N,
 * --no-peer, --keep (leave bench/tmp/<run> in place), --profile-only,
 * --profile-calls grpc-reset,rest-reset,grpc-noop (which loads to profile;
 * the profiled store has --users users, written straight into SQLite above 10,000).
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { create, toBinary } from "@bufbuild/protobuf";
import { NoopRequestSchema } from "../gen/latchkey/bench/v1/bench_pb.js";
import { PasswordResetRequestSchema } from "../gen/zitadel/user/v2/user_service_pb.js";
import { grpcFrame, h2loadPool, h2loadSingle, type LoadResult } from "./lib/h2load.js";
import {
  BENCH_ENV,
  LOAD_CORE,
  NICE,
  REPO,
  RESETS_PER_SEEDED_USER,
  SERVER_CORE,
  eventHead,
  pinned,
  seedDirect,
  seedViaApi,
  serverHandle,
  startLatchkey,
  waitForLine,
  type Server,
} from "./lib/latchkey.js";
import { grpcCall, httpCall } from "./lib/preflight.js";
import { summarizeProfile, type ProfileSummary } from "./lib/profile.js";
import { renderMarkdown } from "./lib/report.js";
import { MissingToolsError, ensureTools, toolVersions } from "./lib/tools.js";
import { clockTicks, coreTimes, freePort, log, median, percentile, processTree, run, sleep } from "./lib/util.js";
import { wrk, writeIds, type Shape } from "./lib/wrk.js";
import { measure, settle, type Measurement, type Target } from "./lib/measure.js";
import { bareTarget, historyBlock, postgresBlock, startBare, writePathMarkdown, type HistoryResult, type PostgresRun } from "./lib/write_path.js";

// ---------------------------------------------------------------- options

const { values: flags } = parseArgs({
  options: {
    scale: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    "profile-only": { type: "boolean", default: false },
    "profile-calls": { type: "string" },
    quick: { type: "boolean", default: false },
    "no-peer": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    duration: { type: "string" },
    warmup: { type: "string" },
    rounds: { type: "string" },
    users: { type: "string" },
    "big-users": { type: "string" },
    "workers-only": { type: "boolean", default: false },
    blocks: { type: "string" },
  },
  strict: true,
});

const config = {
  durationS: Number(flags.duration ?? (flags.quick ? 3 : 10)),
  warmupS: Number(flags.warmup ?? (flags.quick ? 1 : 3)),
  rounds: Number(flags.rounds ?? (flags.quick ? 1 : 3)),
  users: Number(flags.users ?? 1000),
  bigUsers: Number(flags["big-users"] ?? 1_000_000),
  /** requests in flight: wrk connections, h2load processes (one connection, one stream each) */
  concurrency: 16,
  /** gRPC: consecutive requests per user, one h2load process each */
  grpcPerProcess: 20,
  /** wrk connections at the fixed rate, so pacing is never short of a free connection */
  rateConnections: 64,
  profileS: flags.quick ? 5 : 15,
  peer: !flags["no-peer"] && !flags["workers-only"],
  /** users of the history block, each grown to historyEvents events */
  historyUsers: 16,
  historyEvents: 2000,
  /** users seeded on PostgreSQL */
  postgresUsers: 300,
  /** the --workers block: `--workers N` and the cores its server processes may use */
  workerSetups: [
    { workers: 1, cores: SERVER_CORE },
    { workers: 2, cores: `${SERVER_CORE},${LOAD_CORE}` },
  ],
};

// ---------------------------------------------------------------- the measured calls

type Protocol = "grpc" | "connect" | "rest";
type Call = "reset" | "noop";
const PROTOCOLS: Protocol[] = ["grpc", "connect", "rest"];

const GRPC_PATH: Record<Call, string> = {
  reset: "/zitadel.user.v2.UserService/PasswordReset",
  noop: "/latchkey.bench.v1.BenchService/Noop",
};
const grpcBody: Record<Call, (userId: string) => Uint8Array> = {
  reset: (userId) =>
    grpcFrame(toBinary(PasswordResetRequestSchema, create(PasswordResetRequestSchema, { userId, medium: { case: "returnCode", value: {} } }))),
  noop: (userId) => grpcFrame(toBinary(NoopRequestSchema, create(NoopRequestSchema, { userId }))),
};

export interface ScaleResult {
  users: number;
  seeding: string;
  seedSeconds: number;
  storeBytes: number;
  storeEvents: number;
  peer: { available: boolean; reason?: string; storeBytes?: number };
  runs: Measurement[];
  /** the --workers block (PasswordReset, saturation), absent when not run */
  workerRuns?: Measurement[];
  /** the bare connect-node no-op, measured in the rounds of the main block */
  bareRuns?: Measurement[];
  history?: HistoryResult;
}

// ---------------------------------------------------------------- helpers

function fileBytes(dir: string, prefix: string): number {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

function restore(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  const r = spawnSync("cp", ["-a", from, to]);
  if (r.status !== 0) throw new Error(`cp ${from} ${to} failed: ${r.stderr}`);
}

function verificationRows(dir: string): number {
  const db = new Database(path.join(dir, "better-auth.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], number>("SELECT count(*) FROM verification").pluck().get() ?? 0;
  } finally {
    db.close();
  }
}

async function startPeer(dataDir: string, port: number, cpuProfDir?: string): Promise<Server> {
  const script = path.join(REPO, "bench/peer/better-auth.mjs");
  const nodeArgs = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawn("taskset", pinned(SERVER_CORE, process.execPath, [...nodeArgs, script, "serve", dataDir, String(port)]), {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = await waitForLine(child, /better-auth listening on (\S+);/);
  return serverHandle(child, url, port, "");
}

// ---------------------------------------------------------------- targets

function latchkeyTarget(server: Server, dataDir: string, protocol: Protocol, call: Call, ids: string[], idsFile: string, workDir: string): Target {
  const label = `${protocol} ${call}`;
  const rows = () => eventHead(dataDir);
  const base = { label, server, rows, rowsPerCall: (call === "reset" ? 1 : 0) as 0 | 1, users: ids.length, concurrency: config.concurrency };
  if (protocol === "grpc" && call === "noop") {
    // the no-op answers the same for every user: one h2load, no process or connection turnover
    return {
      ...base,
      load: (durationMs) =>
        h2loadSingle({
          url: server.url,
          path: GRPC_PATH[call],
          token: server.token,
          body: grpcBody[call](ids[0]!),
          connections: config.concurrency,
          durationMs,
          workDir,
        }),
    };
  }
  if (protocol === "grpc") {
    return {
      ...base,
      load: (durationMs, rate) =>
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
        }),
    };
  }
  const shape = `${protocol}-${call}` as Shape;
  return {
    ...base,
    load: (durationMs, rate) =>
      wrk({
        url: server.url,
        shape,
        idsFile,
        token: server.token,
        connections: rate ? config.rateConnections : config.concurrency,
        durationMs,
        ...(rate && { rate }),
      }),
  };
}

function peerTarget(server: Server, dataDir: string, emailsFile: string, users: number): Target {
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

// ---------------------------------------------------------------- preflight

async function preflight(server: Server, ids: string[]): Promise<void> {
  const id = ids[0]!;
  for (const call of ["reset", "noop"] as const) {
    const g = await grpcCall(server.url, GRPC_PATH[call], server.token, grpcBody[call](id));
    if (g.status !== "0") throw new Error(`gRPC ${call} answered grpc-status ${g.status}: ${g.message}`);
  }
  const checks: [string, string, (text: string) => boolean][] = [
    [`/zitadel.user.v2.UserService/PasswordReset`, JSON.stringify({ userId: id, returnCode: {} }), (t) => /verificationCode/.test(t)],
    [`/latchkey.bench.v1.BenchService/Noop`, JSON.stringify({ userId: id }), (t) => t === "{}"],
    [`/v2/users/${id}/password_reset`, `{"returnCode":{}}`, (t) => /verificationCode/.test(t)],
    [`/bench/v1/noop/${id}`, "{}", (t) => t === "{}"],
  ];
  for (const [p, body, ok] of checks) {
    const r = await httpCall(server.url + p, server.token, body);
    if (r.status !== 200 || !ok(r.text)) throw new Error(`POST ${p} answered ${r.status}: ${r.text}`);
  }
}

// ---------------------------------------------------------------- seeding

const WRK_SAMPLE = 100_000;

/** `k` distinct indexes below `n` in random order (all of them when k ≥ n). */
function sampleIndexes(n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set<number>();
  while (picked.size < k) picked.add(Math.floor(Math.random() * n));
  return [...picked];
}

interface Seeded {
  users: number;
  seeding: string;
  seedSeconds: number;
  snapshot: string;
  ids: string[];
  idsFile: string;
  emailsFile: string;
  peerSnapshot?: string;
  peerReason?: string;
}

async function seed(root: string, users: number, direct: boolean): Promise<Seeded> {
  const snapshot = path.join(root, "latchkey-seeded");
  fs.mkdirSync(snapshot, { recursive: true });
  const started = performance.now();
  log(`seeding ${users} users (${direct ? "directly into SQLite" : "through the API"})`);
  // the first start creates the instance: organization, admin, token, key
  const server = await startLatchkey({ dataDir: snapshot, port: await freePort() });
  let ids: string[];
  if (direct) {
    await server.stop();
    ids = seedDirect(snapshot, users);
  } else {
    ids = await seedViaApi(server, users);
    await server.stop();
  }
  const seedSeconds = (performance.now() - started) / 1000;
  // wrk draws from a random sample of at most 100,000 users: loading more into its
  // Lua state only delays its start, while the server already counts CPU time
  const sample = sampleIndexes(users, WRK_SAMPLE);
  const idsFile = writeIds(path.join(root, "ids.txt"), sample.map((i) => ids[i]!));
  const emailsFile = writeIds(path.join(root, "emails.txt"), sample.map((i) => `bench-user-${i}@example.com`));
  const seeded: Seeded = {
    users,
    seeding: direct
      ? `events written straight into the SQLite file in one transaction (AddHumanUser's event, username constraint and email lookup, then ${RESETS_PER_SEEDED_USER} password.code.added events per user)`
      : `through the API: AddHumanUser over Connect JSON, then ${RESETS_PER_SEEDED_USER} PasswordResets per user`,
    seedSeconds,
    snapshot,
    ids,
    idsFile,
    emailsFile,
  };
  if (config.peer) {
    const peerSnapshot = path.join(root, "peer-seeded");
    fs.mkdirSync(peerSnapshot, { recursive: true });
    const r = await run(process.execPath, [path.join(REPO, "bench/peer/better-auth.mjs"), "seed", peerSnapshot, String(users)], { cwd: REPO });
    if (r.code === 0) seeded.peerSnapshot = peerSnapshot;
    else seeded.peerReason = `better-auth could not be set up: ${(r.stderr || r.stdout).trim().split("\n").slice(0, 3).join(" ")}`;
  } else {
    seeded.peerReason = "not run (--no-peer)";
  }
  log(`seeded in ${seedSeconds.toFixed(1)} s`);
  return seeded;
}

// ---------------------------------------------------------------- one scale

interface Blocks {
  /** saturation and fixed rate, every protocol and call, and better-auth */
  main: boolean;
  /** the bare connect-node no-op in the main block's rounds */
  bare: boolean;
  /** the same users fresh and with a long history */
  history: boolean;
  /** PasswordReset with --workers 1 and --workers 2 */
  workers: boolean;
}

const BLOCK_NAMES = ["main", "bare", "history", "postgres", "workers"] as const;
/** --blocks main,bare,history,postgres,workers (default: all); --workers-only is --blocks workers */
function chosenBlocks(): Record<(typeof BLOCK_NAMES)[number], boolean> {
  const names = flags["workers-only"] ? ["workers"] : (flags.blocks?.split(",").map((b) => b.trim()) ?? [...BLOCK_NAMES]);
  for (const name of names) if (!(BLOCK_NAMES as readonly string[]).includes(name)) throw new Error(`--blocks: unknown block ${name}`);
  return Object.fromEntries(BLOCK_NAMES.map((b) => [b, names.includes(b)])) as Record<(typeof BLOCK_NAMES)[number], boolean>;
}

async function benchScale(root: string, users: number, direct: boolean, blocks: Blocks): Promise<ScaleResult> {
  fs.mkdirSync(root, { recursive: true });
  const s = await seed(root, users, direct);
  const work = path.join(root, "latchkey");
  const peerWork = path.join(root, "peer");
  const h2work = path.join(root, "h2load");
  const runs: Measurement[] = [];
  const bareRuns: Measurement[] = [];
  let history: HistoryResult | undefined;
  const warmupMs = config.warmupS * 1000;
  const durationMs = config.durationS * 1000;

  const withLatchkey = async <T>(fn: (server: Server) => Promise<T>, setup?: { workers: number; cores: string }): Promise<T> => {
    restore(s.snapshot, work);
    const server = await startLatchkey({ dataDir: work, port: await freePort(), ...setup });
    try {
      return await fn(server);
    } finally {
      await server.stop();
    }
  };
  const withPeer = async <T>(fn: (server: Server) => Promise<T>): Promise<T> => {
    restore(s.peerSnapshot!, peerWork);
    const server = await startPeer(peerWork, await freePort());
    try {
      return await fn(server);
    } finally {
      await server.stop();
    }
  };
  const target = (server: Server, protocol: Protocol, call: Call) => latchkeyTarget(server, work, protocol, call, s.ids, s.idsFile, h2work);

  // saturation, rounds interleaved so drift and noise spread over every protocol
  for (let round = 1; blocks.main && round <= config.rounds; round++) {
    log(`${users} users, round ${round}/${config.rounds}`);
    for (const protocol of PROTOCOLS) {
      await withLatchkey(async (server) => {
        if (round === 1) await preflight(server, s.ids);
        for (const call of ["reset", "noop"] as const) {
          const t = target(server, protocol, call);
          await t.load(warmupMs);
          await settle(t.rows);
          runs.push(await measure(t, round, durationMs));
        }
      });
    }
    if (blocks.bare) {
      const bare = await startBare();
      try {
        for (const protocol of ["grpc", "connect"] as const) {
          const t = bareTarget(bare, protocol, grpcBody.noop(s.ids[0]!), s.idsFile, config.concurrency, h2work);
          await t.load(warmupMs);
          bareRuns.push(await measure(t, round, durationMs));
        }
      } finally {
        await bare.stop();
      }
    }
    if (s.peerSnapshot) {
      await withPeer(async (server) => {
        const t = peerTarget(server, peerWork, s.emailsFile, users);
        if (round === 1) {
          const r = await httpCall(`${server.url}/api/auth/request-password-reset`, undefined, JSON.stringify({ email: "bench-user-0@example.com" }));
          if (r.status !== 200) throw new Error(`better-auth answered ${r.status}: ${r.text}`);
        }
        await t.load(warmupMs);
        await settle(t.rows);
        runs.push(await measure(t, round, durationMs));
      });
    }
  }

  // latency at a fixed offered rate: half of the median saturation throughput
  if (blocks.main) log(`${users} users, fixed rate (half of saturation)`);
  const half = (label: string) => median(runs.filter((m) => m.label === label && m.offeredRps === undefined).map((m) => m.rps)) / 2;
  for (const protocol of blocks.main ? PROTOCOLS : []) {
    const rate = half(`${protocol} reset`);
    await withLatchkey(async (server) => {
      const t = target(server, protocol, "reset");
      await t.load(warmupMs, rate);
      await settle(t.rows);
      runs.push(await measure(t, 1, durationMs, rate, config.rateConnections));
    });
  }
  if (blocks.main && s.peerSnapshot) {
    const rate = half("peer reset");
    await withPeer(async (server) => {
      const t = peerTarget(server, peerWork, s.emailsFile, users);
      await t.load(warmupMs, rate);
      await settle(t.rows);
      runs.push(await measure(t, 1, durationMs, rate, config.rateConnections));
    });
  }

  if (blocks.history) {
    log(`${users} users, history: ${config.historyUsers} of them fresh and after ${config.historyEvents} events each`);
    history = await withLatchkey((server) =>
      historyBlock({
        server,
        dataDir: work,
        ids: s.ids.slice(0, config.historyUsers),
        workDir: root,
        targetEvents: config.historyEvents,
        rounds: config.rounds,
        durationMs,
        warmupMs,
        concurrency: config.concurrency,
        measure,
      }),
    );
  }

  // --workers 1 on the server's core against --workers 2 on both cores, the load generator staying
  // on its core: rounds interleaved, and the order of the two flipped every round
  const workerRuns: Measurement[] = [];
  for (let round = 1; blocks.workers && round <= config.rounds; round++) {
    log(`${users} users, --workers, round ${round}/${config.rounds}`);
    const setups = round % 2 === 1 ? config.workerSetups : [...config.workerSetups].reverse();
    for (const protocol of PROTOCOLS) {
      for (const setup of setups) {
        await withLatchkey(async (server) => {
          const processes = processTree(server.pid).length;
          const wanted = setup.workers > 1 ? setup.workers + 1 : 1;
          if (processes !== wanted) throw new Error(`--workers ${setup.workers}: ${processes} server processes, expected ${wanted}`);
          if (round === 1) await preflight(server, s.ids);
          const t = { ...target(server, protocol, "reset"), workers: setup.workers };
          await t.load(warmupMs);
          await settle(t.rows);
          workerRuns.push(await measure(t, round, durationMs));
        }, setup);
      }
    }
  }

  const storeDb = new Database(path.join(s.snapshot, "latchkey.db"), { readonly: true });
  const storeEvents = storeDb.prepare<[], number>("SELECT count(*) FROM events").pluck().get() ?? 0;
  storeDb.close();
  return {
    users,
    seeding: s.seeding,
    seedSeconds: s.seedSeconds,
    storeBytes: fileBytes(s.snapshot, "latchkey.db"),
    storeEvents,
    peer: s.peerSnapshot
      ? { available: true, storeBytes: fileBytes(s.peerSnapshot, "better-auth.db") }
      : { available: false, reason: s.peerReason ?? "not run" },
    runs,
    ...(blocks.workers && { workerRuns }),
    ...(blocks.bare && { bareRuns }),
    ...(history && { history }),
  };
}

// ---------------------------------------------------------------- profile

async function profile(root: string, stamp: string): Promise<ProfileSummary[]> {
  // a large store is written straight into SQLite, as for --scale
  const s = await seed(path.join(root, "profile"), config.users, config.users > 10_000);
  const work = path.join(root, "profile", "latchkey");
  const summaries: ProfileSummary[] = [];
  const calls = (flags["profile-calls"] ?? "grpc-reset,rest-reset,grpc-noop").split(",").map((c) => c.trim().split("-") as [Protocol, Call]);
  for (const [protocol, call] of calls) {
    if (!PROTOCOLS.includes(protocol) || (call !== "reset" && call !== "noop")) throw new Error(`--profile-calls: unknown ${protocol}-${call}`);
    restore(s.snapshot, work);
    const profDir = path.join(root, "profile", `prof-${protocol}-${call}`);
    fs.mkdirSync(profDir, { recursive: true });
    const server = await startLatchkey({ dataDir: work, port: await freePort(), cpuProfDir: profDir });
    let m: Measurement;
    try {
      const t = latchkeyTarget(server, work, protocol, call, s.ids, s.idsFile, path.join(root, "profile", "h2load"));
      await t.load(config.warmupS * 1000);
      await settle(t.rows);
      m = await measure(t, 1, config.profileS * 1000);
    } finally {
      await server.stop();
    }
    const file = fs.readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no .cpuprofile in ${profDir}: did the server exit cleanly?`);
    const dest = path.join(REPO, "bench/results", `${stamp}-${protocol}-${call}.cpuprofile`);
    fs.copyFileSync(path.join(profDir, file), dest);
    summaries.push(summarizeProfile(dest, `${protocol} ${call}, ${config.users.toLocaleString("en")} users`, m));
  }
  return summaries;
}

// ---------------------------------------------------------------- machine

function machine() {
  const sh = (cmd: string) => spawnSync("sh", ["-c", cmd], { encoding: "utf8" }).stdout.trim();
  return {
    date: new Date().toISOString(),
    // --all: this process is already pinned to one core
    nproc: Number(sh("nproc --all")),
    cpuModel: sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1") || os.cpus()[0]?.model || "unknown",
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    node: process.version,
    npm: sh("npm -v 2>/dev/null"),
    betterAuth: (() => {
      try {
        return (JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/better-auth/package.json"), "utf8")) as { version: string }).version;
      } catch {
        return "not installed";
      }
    })(),
    ...toolVersions(),
    clockTicks: clockTicks(),
    commit:
      sh(`git -C '${REPO}' rev-parse --show-toplevel 2>/dev/null`) === REPO
        ? sh(`git -C '${REPO}' rev-parse --short HEAD`) + (sh(`git -C '${REPO}' status --porcelain`) ? " (with uncommitted changes)" : "")
        : "unknown: not a git checkout",
    loadAverageAtStart: os.loadavg().map((l) => l.toFixed(2)).join(" "),
    pinning:
      `server: taskset -c ${SERVER_CORE}; h2load, wrk and this harness: taskset -c ${LOAD_CORE}` +
      `; the --workers block: ${config.workerSetups.map((w) => `--workers ${w.workers} on taskset -c ${w.cores}`).join(", ")}, the load generators still on ${LOAD_CORE}` +
      // the children inherit this process's niceness, and `nice -n` adds to it
      (NICE !== 0 ? `; this harness at nice ${NICE}, the server and load generators at nice ${2 * NICE}` : "; default priority (not root)"),
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  try {
    ensureTools();
  } catch (err) {
    if (err instanceof MissingToolsError) {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (os.cpus().length < 2) throw new Error("the benchmark pins the server and the load generator to separate cores: it needs 2");
  // this process (and so everything it starts, unless told otherwise) stays off the server's core
  await run("taskset", ["-a", "-p", "-c", LOAD_CORE, String(process.pid)]);
  if (NICE !== 0) await run("renice", ["-n", String(NICE), "-p", String(process.pid)]);

  const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z");
  const root = path.join(REPO, "bench/tmp", `run-${stamp}`);
  fs.mkdirSync(path.join(REPO, "bench/results"), { recursive: true });
  const results = {
    machine: machine(),
    config: { ...config, argv: process.argv.slice(2) },
    commands: {
      server: `${Object.entries(BENCH_ENV).map(([k, v]) => `${k}=${v}`).join(" ")} taskset ${pinned(SERVER_CORE, "node", []).join(" ")} bin/latchkey.js start --data-dir <tmp> --host 127.0.0.1 --port <free>`,
      serverWorkers: config.workerSetups
        .map((w) => `${Object.entries(BENCH_ENV).map(([k, v]) => `${k}=${v}`).join(" ")} taskset ${pinned(w.cores, "node", []).join(" ")} bin/latchkey.js start --data-dir <tmp> --host 127.0.0.1 --port <free> --workers ${w.workers}`)
        .join("\n"),
      grpcNoop: `taskset ${pinned(LOAD_CORE, "h2load", []).join(" ")} -D ${config.durationS} -c ${config.concurrency} -m 1 -d <body.bin> -H 'content-type: application/grpc' -H 'te: trailers' -H 'authorization: Bearer …' --log-file <log> http://127.0.0.1:<port>/latchkey.bench.v1.BenchService/Noop`,
      grpc: `taskset ${pinned(LOAD_CORE, "h2load", []).join(" ")} -n ${config.grpcPerProcess} -c 1 -m 1 [--rps R/${config.concurrency}] -d <body.bin> -H 'content-type: application/grpc' -H 'te: trailers' -H 'authorization: Bearer …' --log-file <log> http://127.0.0.1:<port>/zitadel.user.v2.UserService/PasswordReset   (${config.concurrency} at once, each for one random user, restarted until the time is up)`,
      http: `taskset ${pinned(LOAD_CORE, "wrk", []).join(" ")} -t1 -c${config.concurrency} -d${config.durationS}s --timeout 10s -s bench/wrk/rotate.lua http://127.0.0.1:<port> -- <ids> connect-reset|connect-noop|rest-reset|rest-noop|peer-reset <token> [R]   (fixed rate: -c${config.rateConnections} and R)`,
      peer: `taskset ${pinned(SERVER_CORE, "node", []).join(" ")} bench/peer/better-auth.mjs serve <tmp> <port>`,
    },
    scales: [] as ScaleResult[],
    postgres: [] as PostgresRun[],
    profiles: [] as ProfileSummary[],
  };
  const out = path.join(REPO, "bench/results", `${stamp}.json`);
  const save = () => fs.writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
  log(`results go to ${path.relative(REPO, out)}; work files in ${path.relative(REPO, root)}`);
  try {
    if (!flags["profile-only"]) {
      const blocks = chosenBlocks();
      if (blocks.main || blocks.history || blocks.workers) {
        results.scales.push(await benchScale(path.join(root, "small"), config.users, false, { ...blocks, bare: blocks.main && blocks.bare }));
        save();
      }
      if (flags.scale && blocks.main) {
        results.scales.push(await benchScale(path.join(root, "big"), config.bigUsers, true, { main: true, bare: false, history: false, workers: false }));
        save();
      }
      if (blocks.postgres) {
        log(`PostgreSQL: one and two instances`);
        results.postgres = await postgresBlock({ root: path.join(root, "postgres"), users: config.postgresUsers, rounds: config.rounds, durationMs: config.durationS * 1000, warmupMs: config.warmupS * 1000, concurrency: config.concurrency });
        save();
      }
    }
    if (flags.profile || flags["profile-only"]) {
      results.profiles = await profile(root, stamp);
      save();
    }
  } finally {
    save();
    if (!flags.keep) fs.rmSync(root, { recursive: true, force: true });
  }
  const small = results.scales[0];
  const md =
    renderMarkdown(results) +
    "\n" +
    writePathMarkdown({
      ...(small?.bareRuns && { bare: small.bareRuns, latchkey: small.runs }),
      ...(small?.history && { history: small.history }),
      postgres: results.postgres,
    });
  fs.writeFileSync(out.replace(/\.json$/, ".md"), md);
  process.stdout.write(md);
  log(`wrote ${path.relative(REPO, out)} and its .md`);
}

await main();
