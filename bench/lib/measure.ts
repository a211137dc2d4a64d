/** One measured load against one server: throughput, server CPU from /proc, latency, and a check of what the calls wrote. */
import { config } from "./config.js";
import type { LoadResult } from "./h2load.js";
import type { Server } from "./latchkey.js";
import { coreTimes, log, percentile, sleep, threadCpuSeconds } from "./util.js";

export interface Measurement {
  label: string;
  round: number;
  /** requests per second the load generator was asked for; absent: as fast as answered */
  offeredRps?: number;
  requests: number;
  ok: number;
  errors: number;
  wallSeconds: number;
  rps: number;
  serverCpuSeconds: number;
  cpuPerRequestUs: number;
  /** the kernel's part of cpuPerRequestUs (stime: system calls, fsync, network) */
  systemCpuPerRequestUs: number;
  /** server CPU time / the CPU window's wall time: 1.0 is one core busy */
  serverCpuShare: number;
  /** wall time over which the server's CPU time was taken (slightly longer than wallSeconds) */
  windowSeconds: number;
  /** time other processes ran on the server's core, / wall time: noise */
  otherCpuShareOnServerCore: number;
  stealShareOnServerCore: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** rows the calls wrote: latchkey events, better-auth verification rows */
  rowsWritten: number;
  check: string;
  /** seconds of load before the measured run (see warmUp) */
  warmupSeconds?: number;
  /** the share of the server's CPU V8's helper threads took in the warm-up's last slice */
  helperShareAtStart?: number;
  eventsPerUserBefore?: number;
  eventsPerUserAfter?: number;
  /** h2load processes the gRPC pool ran */
  processesRun?: number;
  /** the --workers block: `--workers N` and the server's taskset cores */
  workers?: number;
  serverCores?: string;
  /** server processes (primary and workers) and each one's CPU seconds in the window, the primary first */
  serverCpuSecondsByProcess?: number[];
  /** the bare block: which server answered */
  server?: "latchkey" | "bare";
  /** the history block: the users' histories when the run started */
  history?: "fresh" | "long";
  /** the PostgreSQL block: latchkey instances sharing the database */
  instances?: number;
  /** the PostgreSQL block: the database server's CPU time in the window (all its processes), apart from the server's */
  databaseCpuSeconds?: number;
  databaseCpuPerRequestUs?: number;
}

export type Load = (durationMs: number, rate?: number) => Promise<LoadResult & { p50Us?: number; p90Us?: number; p99Us?: number }>;

export interface Target {
  label: string;
  server: Server;
  /** rows written so far (events or verification rows) */
  rows: () => number | Promise<number>;
  /** how many rows each successful call writes */
  rowsPerCall: 0 | 1;
  users: number;
  load: Load;
  concurrency: number;
  /** the --workers block: the server's `--workers N` */
  workers?: number;
  /** fields copied into each measurement, saying which set-up of a block it was */
  tags?: Pick<Measurement, "server" | "history" | "instances">;
  /** CPU seconds so far of the database server, when it is a process of its own */
  databaseCpu?: () => number;
  /** whether rows are events of the users (so events per user can be told) */
  countsEvents?: boolean;
}

/** Requests still in flight when wrk stops are answered after it: wait until the rows stop changing. */
export async function settle(rows: () => number | Promise<number>): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = await rows();
  for (;;) {
    await sleep(400);
    const now = await rows();
    if (now === last || Date.now() > deadline) return;
    last = now;
  }
}

const WARMUP_SLICE_MS = 2000;

/**
 * Loads the server for --warmup seconds; with --warmup-max above that, goes
 * on in slices of 2 s until V8's helper threads took less than
 * config.jitSettledShare of its CPU in the last slice, or --warmup-max
 * seconds of load were asked for. Those threads compile the hot functions; a
 * server with more code keeps them busy for longer (over Connect JSON at
 * saturation a latchkey server for 10-15 s, connect-node's bare servers for
 * 6-8 s), and a long-running service has that work behind it. Under the gRPC
 * load they stay above 5 % for every server (its calls leave more garbage for
 * the concurrent GC), which then gets --warmup-max. The same rule holds for
 * every server measured. At a fixed offered rate the load first runs for
 * --latency-warmup seconds instead of --warmup.
 */
export async function warmUp(t: Target, rate?: number, fixed = false): Promise<{ seconds: number; helperShare: number }> {
  // the seconds asked for decide when to stop; the seconds the load ran (the gRPC pool
  // lets each h2load process finish its calls) are what is reported
  let asked = rate === undefined || fixed ? config.warmupS : Math.max(config.warmupS, config.latencyWarmupS);
  let seconds = (await t.load(asked * 1000, rate)).wallSeconds;
  let helperShare = NaN;
  while (!fixed && asked < config.warmupMaxS) {
    const cpu0 = t.server.cpu().total;
    const helpers0 = threadCpuSeconds(t.server.pid, "V8Worker");
    const slice = Math.min(WARMUP_SLICE_MS / 1000, config.warmupMaxS - asked);
    seconds += (await t.load(slice * 1000, rate)).wallSeconds;
    asked += slice;
    const cpu = t.server.cpu().total - cpu0;
    helperShare = cpu > 0 ? (threadCpuSeconds(t.server.pid, "V8Worker") - helpers0) / cpu : 0;
    if (helperShare < config.jitSettledShare) break;
  }
  return { seconds, helperShare };
}

/**
 * Warm-up (see warmUp), settling, then one measured run. `fixedWarmup`: only
 * --warmup seconds, for a block whose calls must not change the store much
 * before it is measured (the history block's fresh users).
 */
export async function warmAndMeasure(t: Target, round: number, rate?: number, fixedWarmup = false): Promise<Measurement> {
  const warm = await warmUp(t, rate, fixedWarmup);
  await settle(t.rows);
  return measure(t, round, config.durationS * 1000, rate, warm);
}

export async function measure(t: Target, round: number, durationMs: number, rate?: number, warm?: { seconds: number; helperShare: number }): Promise<Measurement> {
  const rows0 = await t.rows();
  const cpu0 = t.server.cpu();
  const db0 = t.databaseCpu?.();
  const core0 = coreTimes(t.server.cores);
  const windowStart = performance.now();
  const r = await t.load(durationMs, rate);
  const cpu1 = t.server.cpu();
  const db1 = t.databaseCpu?.();
  // the CPU window: the load generator's run plus its start and exit
  const windowSeconds = (performance.now() - windowStart) / 1000;
  const core1 = coreTimes(t.server.cores);
  await settle(t.rows);
  const rows = (await t.rows()) - rows0;
  const cpu = cpu1.total - cpu0.total;
  const sys = cpu1.system - cpu0.system;
  const before = new Map(cpu0.byPid);
  // a process that exited in the window (a worker restarted) took its CPU time with it
  const treeChanged = cpu0.byPid.length !== cpu1.byPid.length || cpu1.byPid.some(([pid]) => !before.has(pid));
  const lat = (p: number, given?: number) => (given ?? percentile(r.latenciesUs, p)) / 1000;
  const slack = rate ? config.rateConnections : t.concurrency;
  const expected = t.rowsPerCall * r.ok;
  const check =
    r.errors > 0
      ? `FAILED: ${r.errors} errors`
      : r.ok === 0
        ? "FAILED: no answers"
        : treeChanged
          ? `FAILED: server processes changed during the run (${cpu0.byPid.map(([p]) => p).join(",")} → ${cpu1.byPid.map(([p]) => p).join(",")})`
          : t.rowsPerCall === 0
            ? rows === 0
              ? "ok"
              : `FAILED: ${rows} rows written by a no-op`
            : rows >= expected && rows <= expected + slack
              ? "ok"
              : `FAILED: ${rows} rows for ${r.ok} answers`;
  const m: Measurement = {
    label: t.label,
    round,
    ...(rate !== undefined && { offeredRps: Math.round(rate) }),
    requests: r.requests,
    ok: r.ok,
    errors: r.errors,
    wallSeconds: r.wallSeconds,
    rps: r.ok / r.wallSeconds,
    serverCpuSeconds: cpu,
    cpuPerRequestUs: (cpu / r.ok) * 1e6,
    systemCpuPerRequestUs: (sys / r.ok) * 1e6,
    serverCpuShare: cpu / windowSeconds,
    windowSeconds,
    // the server's cores also ran other processes (the machine is shared; with --workers 2 also the
    // load generator and this harness) or were stolen by the hypervisor
    otherCpuShareOnServerCore: Math.max(0, core1.busy - core0.busy - cpu) / windowSeconds,
    stealShareOnServerCore: (core1.steal - core0.steal) / windowSeconds,
    p50Ms: lat(50, r.p50Us),
    p90Ms: lat(90, r.p90Us),
    p99Ms: lat(99, r.p99Us),
    rowsWritten: rows,
    check,
    ...(r.processesRun > 1 && { processesRun: r.processesRun }),
    ...(t.workers !== undefined && { workers: t.workers, serverCores: t.server.cores.join(",") }),
    ...(cpu1.byPid.length > 1 && { serverCpuSecondsByProcess: cpu1.byPid.map(([pid, s]) => s - (before.get(pid) ?? 0)) }),
    ...t.tags,
    ...(warm && { warmupSeconds: warm.seconds }),
    ...(warm && Number.isFinite(warm.helperShare) && { helperShareAtStart: warm.helperShare }),
  };
  if (db0 !== undefined && db1 !== undefined) {
    m.databaseCpuSeconds = db1 - db0;
    m.databaseCpuPerRequestUs = (m.databaseCpuSeconds / r.ok) * 1e6;
  }
  if (t.rowsPerCall === 1 && t.countsEvents) {
    // the store's first 4 events are the instance's, not a user's
    m.eventsPerUserBefore = (rows0 - 4) / t.users;
    m.eventsPerUserAfter = (rows0 + rows - 4) / t.users;
  }
  log(describe(t, m, rate));
  if (check !== "ok") process.exitCode = 1;
  return m;
}

function describe(t: Target, m: Measurement, rate?: number): string {
  const byProcess = m.serverCpuSecondsByProcess ? ` [per process ${m.serverCpuSecondsByProcess.map((s) => s.toFixed(2)).join(" / ")} s]` : "";
  const tags = [
    t.workers !== undefined ? `w${t.workers}` : "",
    m.server ?? "",
    m.history ?? "",
    m.instances !== undefined ? `${m.instances}x` : "",
  ].filter(Boolean);
  const warm = m.warmupSeconds !== undefined ? ` after ${m.warmupSeconds.toFixed(0)} s warm-up` : "";
  const database = m.databaseCpuPerRequestUs !== undefined ? `, database ${m.databaseCpuPerRequestUs.toFixed(0)} µs CPU/req` : "";
  return (
    `  ${t.label.padEnd(14)}${tags.length > 0 ? ` ${tags.join(" ")}` : ""} r${m.round}${rate ? ` @${Math.round(rate)}/s` : ""}${warm}: ${m.rps.toFixed(0)} req/s, ` +
    `${m.cpuPerRequestUs.toFixed(0)} µs CPU/req (sys ${m.systemCpuPerRequestUs.toFixed(0)}; ${(m.serverCpuShare * 100).toFixed(0)}% core, others ${(m.otherCpuShareOnServerCore * 100).toFixed(0)}%)${byProcess}${database}, ` +
    `p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms, ${m.check}`
  );
}
