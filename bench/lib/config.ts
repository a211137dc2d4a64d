/** The command line of `npm run bench` and the settings every block shares. */
import { parseArgs } from "node:util";
import { LOAD_CORE, SERVER_CORE } from "./latchkey.js";

export const BLOCKS = ["main", "bare", "history", "postgres", "workers"] as const;
export type BlockName = (typeof BLOCKS)[number];

/** A bad command line ends the run with its reason, not a stack trace. */
function orExit<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

export const { values: flags } = orExit(() =>
  parseArgs({
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
      "warmup-max": { type: "string" },
      "latency-warmup": { type: "string" },
      rounds: { type: "string" },
      users: { type: "string" },
      "big-users": { type: "string" },
      "workers-only": { type: "boolean", default: false },
      only: { type: "string" },
      "history-users": { type: "string" },
      "history-events": { type: "string" },
      "grpc-per-process": { type: "string" },
    },
    strict: true,
  }),
);

/** The blocks to run at the --users store: all by default, `--only a,b` picks some, `--workers-only` means `--only workers`. */
export function selectedBlocks(only = flags.only, workersOnly = flags["workers-only"]): Set<BlockName> {
  if (workersOnly && only !== undefined) throw new Error("--workers-only and --only: give one of them");
  if (workersOnly) return new Set(["workers"]);
  if (only === undefined) return new Set(BLOCKS);
  const names = only.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(BLOCKS as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) throw new Error(`--only: unknown block ${unknown.join(", ") || "(none)"}; blocks are ${BLOCKS.join(", ")}`);
  return new Set(names as BlockName[]);
}

function positive(name: string, value: string | undefined, fallback: number): number {
  const n = Number(value ?? fallback);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${value}`);
  return n;
}

export const blocks = orExit(() => selectedBlocks());

export const config = orExit(() => ({
  durationS: positive("duration", flags.duration, flags.quick ? 3 : 10),
  warmupS: positive("warmup", flags.warmup, flags.quick ? 1 : 3),
  /**
   * With --warmup-max above --warmup, the load goes on after --warmup in slices
   * until V8's helper threads (its optimizing compiler, the concurrent GC) take
   * less than jitSettledShare of the server's CPU, or until this many seconds
   * of warm-up (see warmUp). Off by default: 20 s gave the same ratios at
   * three times a run's length (see BENCHMARKS.md, "The warm-up").
   */
  warmupMaxS: positive("warmup-max", flags["warmup-max"], positive("warmup", flags.warmup, flags.quick ? 1 : 3)),
  jitSettledShare: 0.05,
  /**
   * Seconds of load at the offered rate before a fixed-rate (latency) run.
   * A server's first seconds hold its compiler's work, which makes the tail
   * of a run right after start several times that of the same server warmed
   * (see BENCHMARKS.md, "The tail after the warm-up").
   */
  latencyWarmupS: positive("latency-warmup", flags["latency-warmup"], flags.quick ? 2 : 20),
  rounds: positive("rounds", flags.rounds, flags.quick ? 1 : 3),
  users: positive("users", flags.users, 1000),
  bigUsers: positive("big-users", flags["big-users"], 1_000_000),
  /** requests in flight: wrk connections, h2load processes (one connection, one stream each) */
  concurrency: 16,
  /** gRPC: consecutive requests per user, one h2load process each */
  grpcPerProcess: positive("grpc-per-process", flags["grpc-per-process"], 200),
  /** wrk connections at the fixed rate, so pacing is never short of a free connection */
  rateConnections: 64,
  profileS: flags.quick ? 5 : 15,
  /** better-auth takes part in the main block only */
  peer: !flags["no-peer"] && blocks.has("main"),
  /** the --workers block: `--workers N` and the cores its server processes may use */
  workerSetups: [
    { workers: 1, cores: SERVER_CORE },
    { workers: 2, cores: `${SERVER_CORE},${LOAD_CORE}` },
  ],
  /** the history block: users measured with a fresh history and with a long one */
  historyUsers: positive("history-users", flags["history-users"], 16),
  historyEvents: positive("history-events", flags["history-events"], 2000),
  /** the PostgreSQL block: latchkey instances sharing one database, all on the server's core */
  postgresInstances: [1, 2],
  /** PostgreSQL runs beside the load generators, off the server's core */
  postgresCore: LOAD_CORE,
}));

export type BenchConfig = typeof config;
