/**
 * `npm run bench:allocation [-- --rounds 3 --seconds 8]`: the bytes a call
 * allocates on the serving thread and the bytes of it that outlive a
 * scavenge (promoted to the old generation), from V8's GC trace, for
 * latchkey's PasswordReset and no-op beside connect-node's bare no-op and
 * bare durable append. Time on this host varies from run to run by more than
 * most changes to a call; these counts do not, so they show a change's effect
 * on the garbage a call leaves (and with it on the scavenges) where a
 * throughput run cannot.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ADMIN_TOKEN_FILE } from "../src/eventstore/data_dir.js";
import { GcTrace } from "./lib/gc_trace.js";
import { seedDirect, startLatchkey, type Server } from "./lib/latchkey.js";
import { startBare } from "./lib/servers.js";
import { freePort, median, sleep } from "./lib/util.js";
import { wrk, writeIds, type Shape } from "./lib/wrk.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, seconds: { type: "string", default: "8" }, users: { type: "string", default: "1000" } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const WARM_UP_MS = 3000;
/** V8 prints a collection's line when it ends; wait for the lines of the window's last ones to arrive */
const TRACE_SETTLE_MS = 300;

const root = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-allocation-"));
const snapshot = path.join(root, "seeded");
fs.mkdirSync(snapshot);
// the first start creates the instance (organization, admin, token, key); then the users go straight into the file
await (await startLatchkey({ dataDir: snapshot, port: await freePort() })).stop();
const ids = seedDirect(snapshot, Number(values.users));
const idsFile = writeIds(path.join(root, "ids.txt"), ids);
const token = fs.readFileSync(path.join(snapshot, ADMIN_TOKEN_FILE), "utf8").trim();

interface Case {
  name: string;
  shape: Shape;
  start(trace: GcTrace, round: number): Promise<Server>;
}
const latchkey = async (trace: GcTrace, round: number) => {
  const dataDir = path.join(root, `run-${round}-${Date.now()}`);
  fs.cpSync(snapshot, dataDir, { recursive: true });
  return startLatchkey({ dataDir, port: await freePort(), stdout: trace });
};
const CASES: Case[] = [
  { name: "latchkey PasswordReset, Connect JSON", shape: "connect-reset", start: latchkey },
  { name: "latchkey PasswordReset, REST", shape: "rest-reset", start: latchkey },
  { name: "latchkey no-op, Connect JSON", shape: "connect-noop", start: latchkey },
  { name: "bare append, Connect JSON", shape: "connect-reset", start: async (trace) => startBare(await freePort(), token, "append", undefined, trace) },
  { name: "bare no-op, Connect JSON", shape: "connect-noop", start: async (trace) => startBare(await freePort(), token, "noop", undefined, trace) },
];

interface PerCall {
  allocatedKb: number;
  promotedKb: number;
  scavengesPer1000: number;
  scavengePauseUs: number;
  rps: number;
}
const results = new Map<string, PerCall[]>();
for (let round = 1; round <= rounds; round++) {
  for (const c of round % 2 ? CASES : [...CASES].reverse()) {
    const trace = new GcTrace();
    const server = await c.start(trace, round);
    try {
      const load = (durationMs: number) => wrk({ url: server.url, shape: c.shape, idsFile, token, connections: 16, durationMs });
      await load(WARM_UP_MS);
      await sleep(TRACE_SETTLE_MS);
      const from = trace.mark();
      const measured = await load(seconds * 1000);
      await sleep(TRACE_SETTLE_MS);
      const garbage = trace.between(from, trace.mark());
      if (measured.errors > 0) throw new Error(`${c.name}: ${measured.errors} failed calls`);
      // the load is steady through the window: the heap's rates over the call rate are per call
      const rps = measured.ok / measured.wallSeconds;
      const m: PerCall = {
        allocatedKb: garbage.allocatedPerSecond / rps / 1024,
        promotedKb: garbage.promotedPerSecond / rps / 1024,
        scavengesPer1000: (garbage.scavengesPerSecond / rps) * 1000,
        scavengePauseUs: (garbage.scavengePausePerSecond / rps) * 1000,
        rps,
      };
      results.set(c.name, [...(results.get(c.name) ?? []), m]);
      console.error(`round ${round}/${rounds} ${c.name}: ${m.allocatedKb.toFixed(1)} KB allocated, ${m.promotedKb.toFixed(2)} KB promoted per call (${rps.toFixed(0)} req/s)`);
    } finally {
      await server.stop();
    }
  }
}
fs.rmSync(root, { recursive: true, force: true });

const per = (ms: readonly PerCall[], f: (m: PerCall) => number) => median(ms.map(f));
console.log(`\nServing thread, ${values.users} users, wrk -c16, ${rounds} rounds of ${seconds} s after ${WARM_UP_MS / 1000} s of warm-up, medians; the heap's rates between the window's first and last collection over the rate of calls:\n`);
console.log("| server, call | allocated KB per call | promoted KB per call | scavenges per 1,000 calls | scavenge pause µs per call | req/s |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const [name, ms] of results) {
  console.log(
    `| ${name} | ${per(ms, (m) => m.allocatedKb).toFixed(1)} | ${per(ms, (m) => m.promotedKb).toFixed(2)} | ${per(ms, (m) => m.scavengesPer1000).toFixed(2)} | ${per(ms, (m) => m.scavengePauseUs).toFixed(1)} | ${per(ms, (m) => m.rps).toFixed(0)} |`,
  );
}
