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
}

export interface WrkResult extends LoadResult {
  p50Us: number;
  p90Us: number;
  p99Us: number;
}

export async function wrk(o: WrkOptions): Promise<WrkResult> {
  const script = path.join(REPO, "bench/wrk/rotate.lua");
  const seconds = Math.max(1, Math.round(o.durationMs / 1000));
  const args = pinned(LOAD_CORE, "wrk", [
    "-t1", `-c${o.connections}`, `-d${seconds}s`, "--timeout", "10s", "-s", script, o.url,
    "--", o.idsFile, o.shape, o.token ?? "-", ...(o.rate ? [String(Math.round(o.rate))] : []),
  ]);
  const r = await run("taskset", args);
  const line = r.stdout.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (!line) throw new Error(`wrk gave no result (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  const j = JSON.parse(line.slice(8)) as Record<string, number>;
  const errors = j.connect! + j.read! + j.write! + j.timeout!;
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
  };
}

export function writeIds(file: string, ids: readonly string[]): string {
  fs.writeFileSync(file, ids.join("\n") + "\n");
  return file;
}
