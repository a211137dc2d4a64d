/**
 * The benchmark's blocks about the write path:
 * - bare: the bare connect-node no-op (bench/bare/noop_server.ts), the ceiling
 *   of the stack without any of latchkey's code, measured in the same rounds
 *   as latchkey's PasswordReset and no-op;
 * - history: the same users fresh and after ~2,000 events each;
 * - postgres: PasswordReset on PostgreSQL with one and with two instances.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { createDatabase, startPostgres } from "../../test/support/postgres.js";
import { h2loadSingle, type LoadResult } from "./h2load.js";
import { LOAD_CORE, REPO, SERVER_CORE, eventHead, pinned, seedViaApi, serverHandle, startLatchkey, waitForLine, type Server } from "./latchkey.js";
import { settle, type Measurement, type Target } from "./measure.js";
import { freePort, log, median, run, treeCpuTimes } from "./util.js";
import { wrk, writeIds } from "./wrk.js";

/** The bare no-op server on the server's core: gRPC (h2c) at `url`, Connect JSON at `http1Url`. */
export async function startBare(): Promise<Server & { http1Url: string }> {
  const [h2, h1] = [await freePort(), await freePort()];
  const child = spawn("taskset", pinned(SERVER_CORE, process.execPath, ["--import", "tsx", path.join(REPO, "bench/bare/noop_server.ts"), String(h2), String(h1)]), {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  await waitForLine(child, /bare listening on (\S+) and/);
  return { ...serverHandle(child, `http://127.0.0.1:${h2}`, h2, ""), http1Url: `http://127.0.0.1:${h1}` };
}

/** The bare no-op as a target: gRPC with one h2load, Connect JSON with wrk. */
export function bareTarget(
  server: Server & { http1Url: string },
  protocol: "grpc" | "connect",
  body: Uint8Array,
  idsFile: string,
  concurrency: number,
  workDir: string,
): Target {
  const base = { label: `${protocol} bare`, server, rows: () => 0, rowsPerCall: 0 as const, users: 1, concurrency };
  if (protocol === "grpc") {
    return {
      ...base,
      load: (durationMs) =>
        h2loadSingle({ url: server.url, path: "/latchkey.bench.v1.BenchService/Noop", token: "-", body, connections: concurrency, durationMs, workDir }),
    };
  }
  return { ...base, load: (durationMs) => wrk({ url: server.http1Url, shape: "connect-noop", idsFile, connections: concurrency, durationMs }) };
}

// ---------------------------------------------------------------- history

export interface HistoryResult {
  users: number;
  eventsPerUserBefore: number;
  eventsPerUserAfter: number;
  growSeconds: number;
  before: Measurement[];
  after: Measurement[];
}

/**
 * The same users measured fresh and after each has about `targetEvents`
 * events (added by PasswordResets through the API, as years of use or an
 * attacker would), on one server process.
 */
export async function historyBlock(options: {
  server: Server;
  dataDir: string;
  ids: string[];
  workDir: string;
  targetEvents: number;
  rounds: number;
  durationMs: number;
  warmupMs: number;
  concurrency: number;
  measure: (t: Target, round: number, durationMs: number) => Promise<Measurement>;
}): Promise<HistoryResult> {
  const { server, dataDir, ids } = options;
  const idsFile = writeIds(path.join(options.workDir, "history-ids.txt"), ids);
  const eventsOf = () => eventHead(dataDir);
  const target = (label: string): Target => ({
    label,
    server,
    rows: eventsOf,
    rowsPerCall: 1,
    users: ids.length,
    concurrency: options.concurrency,
    load: (durationMs) => wrk({ url: server.url, shape: "connect-reset", idsFile, token: server.token, connections: options.concurrency, durationMs }),
  });
  const perUser = () => countEventsOf(dataDir, ids) / ids.length;
  const before: Measurement[] = [];
  const after: Measurement[] = [];
  const eventsPerUserBefore = perUser();
  await target("history fresh").load(options.warmupMs);
  await settle(eventsOf);
  for (let round = 1; round <= options.rounds; round++) before.push(await options.measure(target("history fresh"), round, options.durationMs));
  const started = performance.now();
  while (perUser() < options.targetEvents) {
    log(`  history: ${perUser().toFixed(0)} of ${options.targetEvents} events per user`);
    await target("grow").load(5_000);
    await settle(eventsOf);
  }
  const growSeconds = (performance.now() - started) / 1000;
  const eventsPerUserAfter = perUser();
  for (let round = 1; round <= options.rounds; round++) after.push(await options.measure(target("history long"), round, options.durationMs));
  return { users: ids.length, eventsPerUserBefore, eventsPerUserAfter, growSeconds, before, after };
}

/** Events of these users, through a read-only connection of its own (it sees what the server committed). */
function countEventsOf(dataDir: string, ids: readonly string[]): number {
  const db = new Database(path.join(dataDir, "latchkey.db"), { readonly: true, fileMustExist: true });
  try {
    const count = db.prepare<[string], number>("SELECT count(*) FROM events WHERE aggregate_type = 'user' AND aggregate_id = ?").pluck();
    return ids.reduce((sum, id) => sum + (count.get(id) ?? 0), 0);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- PostgreSQL

export interface PostgresRun {
  instances: 1 | 2;
  round: number;
  requests: number;
  ok: number;
  errors: number;
  rps: number;
  /** latchkey's CPU (every instance) per answered request */
  latchkeyCpuPerRequestUs: number;
  /** PostgreSQL's CPU (postmaster and backends) per answered request */
  postgresCpuPerRequestUs: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * PasswordReset over Connect JSON on one PostgreSQL server: one latchkey
 * instance, then two on the same database with the load split between them,
 * rounds alternated. latchkey runs on the server's core, PostgreSQL and the
 * load generators on the other.
 */
export async function postgresBlock(options: { root: string; users: number; rounds: number; durationMs: number; warmupMs: number; concurrency: number }): Promise<PostgresRun[]> {
  const postgres = await startPostgres();
  const runs: PostgresRun[] = [];
  const servers: Server[] = [];
  try {
    const postmaster = await postmasterPid(postgres.url);
    // the postmaster's backends are forked later and inherit this
    await run("taskset", ["-a", "-p", "-c", LOAD_CORE, String(postmaster)]);
    const databaseUrl = await createDatabase(postgres.url, "bench");
    const env = { LATCHKEY_DATABASE_URL: databaseUrl, LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString("base64") };
    for (const name of ["a", "b"]) {
      const dataDir = path.join(options.root, `postgres-${name}`);
      fs.mkdirSync(dataDir, { recursive: true });
      // the first instance creates the admin token; the second, on the same database, uses it too
      if (servers[0]) fs.copyFileSync(path.join(options.root, "postgres-a", "admin.pat"), path.join(dataDir, "admin.pat"));
      servers.push(await startLatchkey({ dataDir, port: await freePort(), env }));
    }
    const [a, b] = servers as [Server, Server];
    log(`postgres: seeding ${options.users} users`);
    const ids = await seedViaApi(a, options.users);
    const idsFile = writeIds(path.join(options.root, "postgres-ids.txt"), ids);
    const load = (targets: Server[], durationMs: number) =>
      Promise.all(
        targets.map((s) =>
          wrk({ url: s.url, shape: "connect-reset", idsFile, token: s.token, connections: options.concurrency / targets.length, durationMs }),
        ),
      );
    await load([a], options.warmupMs);
    await load([a, b], options.warmupMs);
    for (let round = 1; round <= options.rounds; round++) {
      for (const instances of round % 2 === 1 ? ([1, 2] as const) : ([2, 1] as const)) {
        const targets = instances === 1 ? [a] : [a, b];
        const cpu0 = servers.map((s) => s.cpu().total);
        const pg0 = treeCpuTimes(postmaster).total;
        const results = await load(targets, options.durationMs);
        const cpu = servers.reduce((sum, s, i) => sum + s.cpu().total - cpu0[i]!, 0);
        const pgCpu = treeCpuTimes(postmaster).total - pg0;
        const ok = results.reduce((sum, r) => sum + r.ok, 0);
        const m: PostgresRun = {
          instances,
          round,
          requests: results.reduce((sum, r) => sum + r.requests, 0),
          ok,
          errors: results.reduce((sum, r) => sum + r.errors, 0),
          rps: results.reduce((sum, r) => sum + r.ok / r.wallSeconds, 0),
          latchkeyCpuPerRequestUs: (cpu / ok) * 1e6,
          postgresCpuPerRequestUs: (pgCpu / ok) * 1e6,
          p50Ms: Math.max(...results.map((r) => (r as LoadResult & { p50Us: number }).p50Us)) / 1000,
          p99Ms: Math.max(...results.map((r) => (r as LoadResult & { p99Us: number }).p99Us)) / 1000,
        };
        runs.push(m);
        log(
          `  postgres ${instances} instance${instances > 1 ? "s" : ""} r${round}: ${m.rps.toFixed(0)} req/s, latchkey ${m.latchkeyCpuPerRequestUs.toFixed(0)} µs CPU/req, ` +
            `PostgreSQL ${m.postgresCpuPerRequestUs.toFixed(0)} µs CPU/req, p99 ${m.p99Ms.toFixed(1)} ms, ${m.errors} errors`,
        );
        if (m.errors > 0) process.exitCode = 1;
      }
    }
  } finally {
    for (const s of servers) await s.stop();
    await postgres.stop();
  }
  return runs;
}

async function postmasterPid(url: string): Promise<number> {
  const pg = await import("pg");
  const client = new pg.default.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const stat = fs.readFileSync(`/proc/${rows[0]!.pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------- report

const med = <T extends object>(runs: readonly T[], key: keyof T & string) => median(runs.map((r) => r[key] as unknown as number));

export function writePathMarkdown(input: { bare?: Measurement[]; latchkey?: Measurement[]; history?: HistoryResult; postgres?: PostgresRun[] }): string {
  const out: string[] = [];
  if (input.bare && input.latchkey) {
    out.push("## Against the bare connect-node no-op", "", "| protocol | bare no-op req/s | latchkey no-op req/s | PasswordReset req/s | latchkey no-op / bare | PasswordReset / bare | CPU µs/req: bare, no-op, reset |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for (const protocol of ["grpc", "connect", "rest"]) {
      const bare = input.bare.filter((m) => m.label === `${protocol === "rest" ? "connect" : protocol} bare`);
      const noop = input.latchkey.filter((m) => m.label === `${protocol} noop` && m.offeredRps === undefined);
      const reset = input.latchkey.filter((m) => m.label === `${protocol} reset` && m.offeredRps === undefined);
      if (bare.length === 0 || reset.length === 0) continue;
      const [b, n, r] = [med(bare, "rps"), med(noop, "rps"), med(reset, "rps")];
      out.push(
        `| ${protocol}${protocol === "rest" ? " (against the Connect JSON bare no-op)" : ""} | ${b.toFixed(0)} | ${n.toFixed(0)} | ${r.toFixed(0)} | ${(n / b).toFixed(2)} | ${(r / b).toFixed(2)} | ${med(bare, "cpuPerRequestUs").toFixed(0)}, ${med(noop, "cpuPerRequestUs").toFixed(0)}, ${med(reset, "cpuPerRequestUs").toFixed(0)} |`,
      );
    }
    out.push("");
  }
  if (input.history) {
    const h = input.history;
    const [rb, ra] = [med(h.before, "rps"), med(h.after, "rps")];
    const [cb, ca] = [med(h.before, "cpuPerRequestUs"), med(h.after, "cpuPerRequestUs")];
    out.push(
      "## History",
      "",
      `${h.users} users, Connect JSON PasswordReset, one server process; ${h.eventsPerUserBefore.toFixed(0)} events per user at first, ${h.eventsPerUserAfter.toFixed(0)} after ${h.growSeconds.toFixed(0)} s of resets.`,
      "",
      "| | req/s (rounds) | CPU µs/req | p99 ms |",
      "| --- | --- | ---: | ---: |",
      `| fresh | ${h.before.map((m) => m.rps.toFixed(0)).join(" / ")} | ${cb.toFixed(0)} | ${med(h.before, "p99Ms").toFixed(1)} |`,
      `| after | ${h.after.map((m) => m.rps.toFixed(0)).join(" / ")} | ${ca.toFixed(0)} | ${med(h.after, "p99Ms").toFixed(1)} |`,
      `| after / fresh | ${(ra / rb).toFixed(2)} | ${(ca / cb).toFixed(2)} | |`,
      "",
    );
  }
  if (input.postgres && input.postgres.length > 0) {
    out.push("## PostgreSQL", "", "| instances | req/s (rounds) | latchkey CPU µs/req | PostgreSQL CPU µs/req | p99 ms |", "| ---: | --- | ---: | ---: | ---: |");
    for (const instances of [1, 2]) {
      const r = input.postgres.filter((m) => m.instances === instances);
      out.push(`| ${instances} | ${r.map((m) => m.rps.toFixed(0)).join(" / ")} | ${med(r, "latchkeyCpuPerRequestUs").toFixed(0)} | ${med(r, "postgresCpuPerRequestUs").toFixed(0)} | ${med(r, "p99Ms").toFixed(1)} |`);
    }
    out.push("");
  }
  return out.join("\n");
}
