/**
 * gRPC over h2c with h2load. h2load posts one fixed body, and a unary gRPC
 * request carries its user id in that body, so one h2load process can only
 * ever reset one user. To spread the load over many users, a pool keeps
 * `processes` h2load processes running at once (each one connection, one
 * stream: a caller waiting for each answer), each sending `perProcess`
 * requests for one user drawn at random, then starting the next process
 * for another user, until the time is up (at a fixed rate, the processes'
 * starts are staggered so their requests interleave). Per-request latencies come from
 * h2load's --log-file. h2load cannot see grpc-status (it is in the trailers):
 * callers check the calls did their work another way (events appended).
 */
import fs from "node:fs";
import path from "node:path";
import { LOAD_CORE, pinned } from "./latchkey.js";
import { run } from "./util.js";

export interface PoolOptions {
  url: string;
  /** e.g. /zitadel.user.v2.UserService/PasswordReset */
  path: string;
  token: string;
  /** the framed gRPC request for a user */
  body: (userId: string) => Uint8Array;
  users: readonly string[];
  processes: number;
  perProcess: number;
  durationMs: number;
  /** requests per second of each process; the pool's offered rate is processes × this */
  rpsPerProcess?: number;
  workDir: string;
}

export interface LoadResult {
  /** answered requests (h2load: "done") */
  requests: number;
  /** 2xx answers; for gRPC only the HTTP status */
  ok: number;
  errors: number;
  wallSeconds: number;
  /** sorted, microseconds */
  latenciesUs: number[];
  processesRun: number;
}

export function grpcFrame(message: Uint8Array): Uint8Array {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}

/** Enough bodies for one slot: more processes than a slot can run in the time. */
const BODIES_PER_SLOT = 200;

/**
 * Each slot is a small bash loop, started once, that runs h2load after h2load
 * with the slot's next body until the deadline: the harness (a large node
 * process) forks nothing while the load runs, so the load generator's core
 * stays free for h2load.
 */
const SLOT_SCRIPT = `
dir=$1; deadline_us=$2; delay=$3; shift 3
sleep "$delay"
k=0
while [ -f "$dir/body-$k.bin" ]; do
  now=\${EPOCHREALTIME/./}
  [ "$now" -ge "$deadline_us" ] && break
  h2load "$@" -d "$dir/body-$k.bin" --log-file "$dir/log-$k.tsv" > "$dir/out-$k.txt" 2>&1
  k=$((k + 1))
done
`;

export async function h2loadPool(o: PoolOptions): Promise<LoadResult> {
  fs.rmSync(o.workDir, { recursive: true, force: true });
  const slots = Array.from({ length: o.processes }, (_, n) => path.join(o.workDir, `slot-${n}`));
  for (const dir of slots) {
    fs.mkdirSync(dir, { recursive: true });
    for (let k = 0; k < BODIES_PER_SLOT; k++) {
      fs.writeFileSync(path.join(dir, `body-${k}.bin`), o.body(o.users[Math.floor(Math.random() * o.users.length)]!));
    }
  }
  const h2args = [
    "-n", String(o.perProcess), "-c", "1", "-m", "1",
    ...(o.rpsPerProcess ? ["--rps", String(o.rpsPerProcess)] : []),
    "-H", "content-type: application/grpc",
    "-H", "te: trailers",
    "-H", `authorization: Bearer ${o.token}`,
    `${o.url}${o.path}`,
  ];
  const started = performance.now();
  const deadlineUs = Math.round((Date.now() + o.durationMs) * 1000);
  await Promise.all(
    slots.map((dir, n) => {
      // at a fixed rate, processes started together would fire in step, in bursts of
      // `processes` requests: offset each by its share of the period
      const delay = o.rpsPerProcess ? n / o.rpsPerProcess / o.processes : 0;
      return run("taskset", pinned(LOAD_CORE, "bash", ["-c", SLOT_SCRIPT, "slot", dir, String(deadlineUs), delay.toFixed(4), ...h2args]));
    }),
  );
  const wallSeconds = (performance.now() - started) / 1000;
  const result: LoadResult = { requests: 0, ok: 0, errors: 0, wallSeconds, latenciesUs: [], processesRun: 0 };
  const latencies: number[] = [];
  for (const dir of slots) {
    for (let k = 0; fs.existsSync(path.join(dir, `out-${k}.txt`)); k++) {
      const out = fs.readFileSync(path.join(dir, `out-${k}.txt`), "utf8");
      const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
      const codes = /status codes: (\d+) 2xx/.exec(out);
      if (!m || !codes) throw new Error(`h2load gave no summary:\n${out}`);
      result.requests += Number(m[3]);
      result.ok += Number(codes[1]);
      result.errors += Number(m[5]) + Number(m[6]) + Number(m[7]);
      result.processesRun++;
      for (const line of fs.readFileSync(path.join(dir, `log-${k}.tsv`), "utf8").split("\n")) {
        const cols = line.split("\t");
        if (cols.length === 3) latencies.push(Number(cols[2]));
      }
    }
    if (fs.existsSync(path.join(dir, `body-${BODIES_PER_SLOT - 1}.bin`)) && fs.existsSync(path.join(dir, `out-${BODIES_PER_SLOT - 1}.txt`))) {
      throw new Error(`an h2load slot ran out of bodies: raise BODIES_PER_SLOT`);
    }
  }
  result.latenciesUs = latencies.sort((a, b) => a - b);
  return result;
}
