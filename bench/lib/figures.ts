/** The figures of a results JSON of bench/run.ts: medians over rounds, and their formatting. */
import { median } from "./util.js";

export interface M {
  label: string;
  round: number;
  offeredRps?: number;
  rps: number;
  cpuPerRequestUs: number;
  systemCpuPerRequestUs?: number;
  serverCpuShare: number;
  otherCpuShareOnServerCore?: number;
  p50Ms: number;
  p99Ms: number;
  check: string;
  eventsPerUserBefore?: number;
  eventsPerUserAfter?: number;
  workers?: number;
  serverCores?: string;
  serverCpuSecondsByProcess?: number[];
  serverCpuSeconds?: number;
  server?: string;
  history?: string;
  instances?: number;
  databaseCpuPerRequestUs?: number;
  warmupSeconds?: number;
}
export interface Scale {
  users: number;
  seeding: string;
  seedSeconds: number;
  storeBytes: number;
  storeEvents: number;
  peer: { available: boolean; reason?: string };
  runs: M[];
  bareRuns?: M[];
  history?: { users: number; eventsPerUser: { fresh: number; long: number }; runs: M[] };
  postgres?: { available: boolean; reason?: string; version?: string; core?: string; runs: M[] };
  workerRuns?: M[];
}

export const PROTOCOLS = ["grpc", "connect", "rest"] as const;
export const NAMES: Record<string, string> = { grpc: "gRPC (h2c)", connect: "Connect JSON", rest: "REST" };

export interface Figures {
  rps: number;
  cpuUs: number;
  sysUs: number;
  share: number;
  others: number;
  p50: number;
  p99: number;
  perRound: number[];
  ok: boolean;
  /** the database server's CPU per request, when it ran apart (PostgreSQL) */
  dbUs: number;
  eventsPerUserBefore: number;
  eventsPerUserAfter: number;
}

export function figures(scale: Scale, label: string, fixedRate = false): Figures | undefined {
  return figuresOf(scale.runs.filter((m) => m.label === label && (m.offeredRps !== undefined) === fixedRate));
}

/** Who served in the --workers block: latchkey's PasswordReset, or a bare server with as many threads. */
export type WorkerServer = "latchkey" | "bare no-op" | "bare append";

/** The --workers block's figures of one protocol's server with `--workers n` (n threads for a bare server). */
export function workerFigures(scale: Scale, protocol: string, n: number, server: WorkerServer = "latchkey"): (Figures & { cores: string; byProcess: number[] }) | undefined {
  const label = `${protocol} ${server === "bare no-op" ? "noop" : "reset"}`;
  // runs of earlier results carry no server tag: they are all latchkey's
  const bare = server !== "latchkey";
  const runs = (scale.workerRuns ?? []).filter((m) => m.label === label && m.workers === n && (m.server === "bare") === bare);
  const f = figuresOf(runs);
  if (!f) return undefined;
  // each process's share of the server's CPU time, medians over the rounds (primary first)
  const counts = runs.map((m) => m.serverCpuSecondsByProcess?.length ?? 1);
  const byProcess =
    counts.every((c) => c === counts[0]) && counts[0]! > 1
      ? Array.from({ length: counts[0]! }, (_, i) => median(runs.map((m) => m.serverCpuSecondsByProcess![i]! / (m.serverCpuSeconds ?? NaN))))
      : [];
  return { ...f, cores: runs[0]!.serverCores ?? "", byProcess };
}

export function figuresOf(runs: M[]): Figures | undefined {
  if (runs.length === 0) return undefined;
  return {
    rps: median(runs.map((m) => m.rps)),
    cpuUs: median(runs.map((m) => m.cpuPerRequestUs)),
    sysUs: median(runs.map((m) => m.systemCpuPerRequestUs ?? NaN)),
    share: median(runs.map((m) => m.serverCpuShare)),
    others: median(runs.map((m) => m.otherCpuShareOnServerCore ?? NaN)),
    p50: median(runs.map((m) => m.p50Ms)),
    p99: median(runs.map((m) => m.p99Ms)),
    perRound: runs.map((m) => m.rps),
    ok: runs.every((m) => m.check === "ok"),
    dbUs: median(runs.map((m) => m.databaseCpuPerRequestUs ?? NaN)),
    eventsPerUserBefore: median(runs.map((m) => m.eventsPerUserBefore ?? NaN)),
    eventsPerUserAfter: median(runs.map((m) => m.eventsPerUserAfter ?? NaN)),
  };
}

export const n0 = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : "–");
export const n2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "–");
export const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(0)} %` : "–");
export const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");
