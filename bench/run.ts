/**
 * `npm run bench`: PasswordReset (return_code) against latchkey's own no-op
 * ceiling, connect-node's bare no-op and better-auth, over gRPC (h2load),
 * Connect JSON and REST (wrk), server on core 0 and load generators on core 1;
 * with short and long histories, on PostgreSQL with one and two instances,
 * and with --workers 1 and 2. See BENCHMARKS.md.
 *
 *   npm run bench                      1,000 users, every block, 3 rounds of 10 s
 *   npm run bench -- --only bare,postgres
 *                                      some blocks only: main, bare, history, postgres, workers
 *   npm run bench -- --scale           also 1,000,000 users (seeded into SQLite directly; main block)
 *   npm run bench -- --profile         also a CPU profile of the server under gRPC PasswordReset
 *   npm run bench -- --quick           1 round of 3 s: to check the harness, not to quote
 *   npm run bench -- --workers-only    the same as --only workers
 *
 * Other flags: --duration S, --warmup S (the least warm-up; see warmUp in
 * bench/lib/measure.ts), --warmup-max S, --latency-warmup S (before a
 * fixed-rate run, 20), --rounds N, --users N, --big-users N,
 * --history-users N, --history-events N, --no-peer, --keep (leave
 * bench/tmp/<run> in place), --profile-only, --profile-calls
 * grpc-reset,rest-reset,grpc-noop (which loads to profile; the profiled store
 * has --users users, written straight into SQLite above 10,000).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { bareBlock } from "./blocks/bare.js";
import { scaleContext } from "./blocks/context.js";
import { historyBlock, type HistoryResult } from "./blocks/history.js";
import { mainBlock } from "./blocks/main.js";
import { postgresBlock, type PostgresResult } from "./blocks/postgres.js";
import { workersBlock } from "./blocks/workers.js";
import { blocks, config, flags, type BlockName } from "./lib/config.js";
import { BENCH_ENV, LOAD_CORE, NICE, REPO, SERVER_CORE, pinned, startLatchkey } from "./lib/latchkey.js";
import { measure, settle, type Measurement } from "./lib/measure.js";
import { summarizeProfile, type ProfileSummary } from "./lib/profile.js";
import { renderMarkdown, summarize } from "./lib/report.js";
import { BARE_SCRIPTS } from "./lib/servers.js";
import { fileBytes, restore, seed } from "./lib/stores.js";
import { PROTOCOLS, latchkeyTarget, type Call, type Protocol } from "./lib/targets.js";
import { MissingToolsError, ensureTools, toolVersions } from "./lib/tools.js";
import { clockTicks, freePort, log, run } from "./lib/util.js";

export interface ScaleResult {
  users: number;
  seeding: string;
  seedSeconds: number;
  storeBytes: number;
  storeEvents: number;
  peer: { available: boolean; reason?: string; storeBytes?: number };
  /** which blocks ran at this store */
  blocks: BlockName[];
  runs: Measurement[];
  /** the bare block: latchkey's PasswordReset and no-op, connect-node's bare no-op */
  bareRuns?: Measurement[];
  /** the history block (its own store of a few users) */
  history?: HistoryResult;
  /** the PostgreSQL block */
  postgres?: PostgresResult;
  /** the --workers block (PasswordReset, saturation), absent when not run */
  workerRuns?: Measurement[];
}

// ---------------------------------------------------------------- one scale

/** Seeds a store and runs the selected blocks on it; `progress` is called with the result so far after each block. */
async function benchScale(root: string, users: number, direct: boolean, selected: ReadonlySet<BlockName>, progress: (r: ScaleResult) => void): Promise<ScaleResult> {
  fs.mkdirSync(root, { recursive: true });
  const s = await seed(root, users, direct);
  const ctx = scaleContext(root, s);
  const result: ScaleResult = {
    users,
    seeding: s.seeding,
    seedSeconds: s.seedSeconds,
    storeBytes: fileBytes(s.snapshot, "latchkey.db"),
    storeEvents: countEvents(s.snapshot),
    peer: s.peerSnapshot
      ? { available: true, storeBytes: fileBytes(s.peerSnapshot, "better-auth.db") }
      : { available: false, reason: s.peerReason ?? "not run" },
    blocks: [...selected],
    runs: [],
  };
  progress(result);
  if (selected.has("main")) progress(Object.assign(result, { runs: await mainBlock(ctx) }));
  if (selected.has("bare")) progress(Object.assign(result, { bareRuns: await bareBlock(ctx) }));
  if (selected.has("history")) progress(Object.assign(result, { history: await historyBlock(path.join(root, "history")) }));
  if (selected.has("postgres")) progress(Object.assign(result, { postgres: await postgresBlock(ctx) }));
  if (selected.has("workers")) progress(Object.assign(result, { workerRuns: await workersBlock(ctx) }));
  return result;
}

function countEvents(dataDir: string): number {
  const db = new Database(path.join(dataDir, "latchkey.db"), { readonly: true });
  try {
    return db.prepare<[], number>("SELECT count(*) FROM events").pluck().get() ?? 0;
  } finally {
    db.close();
  }
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
      `; the bare connect-node servers: taskset -c ${SERVER_CORE} (in the --workers block, as latchkey's set-up beside them); the PostgreSQL block: latchkey instances on taskset -c ${SERVER_CORE}, PostgreSQL on taskset -c ${config.postgresCore}` +
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
      bare: `taskset ${pinned(SERVER_CORE, "node", []).join(" ")} --import tsx ${BARE_SCRIPTS.noop} <port>`,
      bareAppend: `taskset ${pinned(SERVER_CORE, "node", []).join(" ")} --import tsx ${BARE_SCRIPTS.append} <port>`,
      postgres:
        `taskset ${pinned(config.postgresCore, "runuser", []).join(" ")} -u postgres -- pg_ctl start -o '-p <free> -c listen_addresses=127.0.0.1 -c max_connections=100' (PostgreSQL's defaults otherwise: fsync, synchronous_commit on); ` +
        `then per instance: ${Object.entries(BENCH_ENV).map(([k, v]) => `${k}=${v}`).join(" ")} taskset ${pinned(SERVER_CORE, "node", []).join(" ")} bin/latchkey.js start --data-dir <tmp> --host 127.0.0.1 --port <free> --database-url postgres://…/<copy> --encryption-key-file <seeded>/encryption.key; ` +
        `load: two wrk -c${config.concurrency / 2} with connect-reset and the wrk script's histogram output, one per instance (both at the one instance with 1)`,
    },
    scales: [] as ScaleResult[],
    profiles: [] as ProfileSummary[],
    /** each block's medians and ratios, as the markdown tables give them */
    summary: [] as ReturnType<typeof summarize>[],
  };
  const out = path.join(REPO, "bench/results", `${stamp}.json`);
  const save = () => {
    results.summary = results.scales.map(summarize);
    fs.writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
  };
  const scale = (r: ScaleResult) => {
    if (!results.scales.includes(r)) results.scales.push(r);
    save();
  };
  log(`results go to ${path.relative(REPO, out)}; work files in ${path.relative(REPO, root)}`);
  try {
    if (!flags["profile-only"]) {
      await benchScale(path.join(root, "small"), config.users, false, blocks, scale);
      // the big store: the main block only, and only when it was selected
      if (flags.scale && blocks.has("main")) await benchScale(path.join(root, "big"), config.bigUsers, true, new Set(["main"]), scale);
    }
    if (flags.profile || flags["profile-only"]) {
      results.profiles = await profile(root, stamp);
      save();
    }
  } finally {
    save();
    if (!flags.keep) fs.rmSync(root, { recursive: true, force: true });
  }
  const md = renderMarkdown(results);
  fs.writeFileSync(out.replace(/\.json$/, ".md"), md);
  process.stdout.write(md);
  log(`wrote ${path.relative(REPO, out)} and its .md`);
}

await main();
