/** HTTP/1.1 load (Connect JSON, REST, the peer) with wrk and bench/wrk/rotate.lua. */
import fs from "node:fs";
import path from "node:path";
import { LOAD_CORE, REPO, pinned } from "./latchkey.js";
import type { LoadResult } from "./h2load.js";
import { run } from "./util.js";

export type Shape = "connect-reset" | "connect-noop" | "rest-reset" | "rest-noop" | "peer-reset";

export interface WrkOptions {
  url: string;
  shape: Shape;
  /** file of user ids (emails for the peer), one a line */
  idsFile: string;
  token?: string;
  connections: number;
  durationMs: number;
  /** offered rate in requests per second (paced by the script); none: as fast as answered */
  rate?: number;
  /** also collect the full latency histogram (for merging several wrk processes' results) */
  histogram?: boolean;
}

export interface WrkResult extends LoadResult {
  p50Us: number;
  p90Us: number;
  p99Us: number;
  /** [latency µs, count], when asked for */
  histogram?: [number, number][];
}

export async function wrk(o: WrkOptions): Promise<WrkResult> {
  const script = path.join(REPO, "bench/wrk/rotate.lua");
  const seconds = Math.max(1, Math.round(o.durationMs / 1000));
  const args = pinned(LOAD_CORE, "wrk", [
    "-t1", `-c${o.connections}`, `-d${seconds}s`, "--timeout", "10s", "-s", script, o.url,
    "--", o.idsFile, o.shape, o.token ?? "-", ...(o.rate ? [String(Math.round(o.rate))] : []),
  ]);
  const r = await run("taskset", args, o.histogram ? { env: { ...process.env, BENCH_WRK_HISTOGRAM: "1" } } : {});
  const line = r.stdout.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (!line) throw new Error(`wrk gave no result (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  const j = JSON.parse(line.slice(8)) as Record<string, number>;
  const errors = j.connect! + j.read! + j.write! + j.timeout!;
  const hist = r.stdout.split("\n").find((l) => l.startsWith("WRKHIST "));
  if (o.histogram && !hist) throw new Error(`wrk gave no latency histogram (exit ${r.code}):\n${r.stderr}`);
  return {
    requests: j.requests!,
    ok: j.requests! - j.status!,
    errors: errors + j.status!,
    wallSeconds: j.duration_us! / 1e6,
    latenciesUs: [],
    processesRun: 1,
    p50Us: j.p50_us!,
    p90Us: j.p90_us!,
    p99Us: j.p99_us!,
    ...(hist && { histogram: JSON.parse(hist.slice(8)) as [number, number][] }),
  };
}

/**
 * Several wrk processes at once, each with its own options (e.g. its own
 * server), as one load: their answers summed over the longest duration,
 * latency percentiles from their merged histograms.
 */
export async function wrkTogether(options: readonly WrkOptions[]): Promise<WrkResult> {
  const results = await Promise.all(options.map((o) => wrk({ ...o, histogram: true })));
  const merged = new Map<number, number>();
  for (const r of results) for (const [v, c] of r.histogram!) merged.set(v, (merged.get(v) ?? 0) + c);
  const sorted = [...merged.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (const [v, c] of sorted) if ((seen += c) >= rank) return v;
    return NaN;
  };
  const sum = (f: (r: WrkResult) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    requests: sum((r) => r.requests),
    ok: sum((r) => r.ok),
    errors: sum((r) => r.errors),
    wallSeconds: Math.max(...results.map((r) => r.wallSeconds)),
    latenciesUs: [],
    processesRun: results.length,
    p50Us: at(50),
    p90Us: at(90),
    p99Us: at(99),
  };
}

export function writeIds(file: string, ids: readonly string[]): string {
  fs.writeFileSync(file, ids.join("\n") + "\n");
  return file;
}
