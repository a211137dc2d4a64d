/**
 * `npm run bench:change-password`: does the work a change_password call leaves
 * behind tell whether its email belongs to a user? Interleaved calls for known
 * and unknown addresses, each followed at once by a probe call for an unknown
 * address; the probe's latency is "after known" or "after unknown". Both cases
 * answer before the reset runs, so only the background work can tell them apart.
 *
 * Two servers in one run, on the built binary (dist/), rate limits off:
 *   immediate  LATCHKEY_BENCH_IMMEDIATE_RESETS=1: each reset starts as soon as
 *              the answer is out (how change_password ran before its queue)
 *   queued     the default: resets start after a random delay, a few at a time
 *
 *   npm run bench:change-password                   150 + 150 pairs per server
 *   npm run bench:change-password -- --pairs 50     fewer, to check the harness
 *
 * Target: "after known" within 1.2x of "after unknown" at the median and p90.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO, serverHandle, waitForLine, type Server } from "./lib/latchkey.js";
import { freePort, log, median, percentile, run, shuffle, sleep } from "./lib/util.js";

const { values: flags } = parseArgs({
  options: {
    pairs: { type: "string" },
    gap: { type: "string" },
    keep: { type: "boolean", default: false },
  },
  strict: true,
});

/** pairs per kind of lead call */
const PAIRS = Number(flags.pairs ?? 150);
/** ms between one pair's probe and the next pair's lead: the pace of a steady trickle of users */
const GAP_MS = Number(flags.gap ?? 100);
const TARGET_RATIO = 1.2;
const BIN = path.join(REPO, "bin/latchkey.js");
const CONNECTION = "Username-Password-Authentication";

interface Mode {
  name: string;
  env: Record<string, string>;
}

const MODES: Mode[] = [
  { name: "immediate", env: { LATCHKEY_BENCH_IMMEDIATE_RESETS: "1" } },
  { name: "queued", env: {} },
];

interface Figures {
  median: number;
  p90: number;
}

interface ModeResult {
  mode: string;
  afterKnown: Figures;
  afterUnknown: Figures;
  leadKnown: Figures;
  leadUnknown: Figures;
}

async function start(mode: Mode, dataDir: string): Promise<Server> {
  const port = await freePort();
  const args = [BIN, "start", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", String(port), "--rate-limits", "off", "--log-level", "warn"];
  const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...mode.env }, stdio: ["ignore", "ignore", "pipe"] });
  const url = await waitForLine(child, /latchkey listening on (\S+);/);
  const token = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim();
  return serverHandle(child, url, port, token);
}

/** One connection, kept alive, as a browser's: every call pays the same connection cost (none). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; ms: number; text: string }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, text }));
    });
    req.on("error", reject);
    req.end(data);
  });
}

async function addUsers(server: Server, count: number, tag: string): Promise<string[]> {
  const emails: string[] = [];
  for (let i = 0; i < count; i++) {
    const email = `known-${tag}-${i}@example.com`;
    const res = await post(`${server.url}/zitadel.user.v2.UserService/AddHumanUser`, { profile: { givenName: "Known", familyName: `User ${i}` }, email: { email } }, { authorization: `Bearer ${server.token}` });
    if (res.status !== 200) throw new Error(`AddHumanUser answered ${res.status}: ${res.text}`);
    emails.push(email);
  }
  return emails;
}

const figures = (values: number[]): Figures => ({ median: median(values), p90: percentile([...values].sort((a, b) => a - b), 90) });

async function measure(mode: Mode, root: string): Promise<ModeResult> {
  const dataDir = path.join(root, mode.name);
  fs.mkdirSync(dataDir, { recursive: true });
  const server = await start(mode, dataDir);
  try {
    const app = await run(process.execPath, [BIN, "app", "add", "--name", "timing", "--data-dir", dataDir], { cwd: REPO });
    if (app.code !== 0) throw new Error(`app add failed: ${app.stderr}`);
    const clientId = app.stdout.trim();
    const known = await addUsers(server, PAIRS, mode.name);
    let unknownCount = 0;
    const unknown = () => `nobody-${mode.name}-${unknownCount++}@example.com`;
    const changePassword = async (email: string) => {
      const res = await post(`${server.url}/dbconnections/change_password`, { client_id: clientId, email, connection: CONNECTION });
      if (res.status !== 200) throw new Error(`change_password answered ${res.status}: ${res.text}`);
      return res.ms;
    };

    // warm up: JIT, statement caches, the connection
    for (let i = 0; i < 30; i++) await changePassword(unknown());
    await sleep(2500);

    const leads = shuffle([...known.map((email) => ({ kind: "known" as const, email })), ...Array.from({ length: PAIRS }, () => ({ kind: "unknown" as const, email: unknown() }))]);
    const after = { known: [] as number[], unknown: [] as number[] };
    const lead = { known: [] as number[], unknown: [] as number[] };
    for (const [i, { kind, email }] of leads.entries()) {
      lead[kind].push(await changePassword(email));
      after[kind].push(await changePassword(unknown()));
      await sleep(GAP_MS);
      if ((i + 1) % 100 === 0) log(`${mode.name}: ${i + 1}/${leads.length} pairs`);
    }
    return { mode: mode.name, afterKnown: figures(after.known), afterUnknown: figures(after.unknown), leadKnown: figures(lead.known), leadUnknown: figures(lead.unknown) };
  } finally {
    await server.stop();
  }
}

function report(results: ModeResult[]): string {
  const ms = (v: number) => v.toFixed(2);
  const lines = [
    `change_password: latency of the call right after a known / unknown address (${PAIRS} + ${PAIRS} pairs per server, ${GAP_MS} ms between pairs, ${os.cpus().length} cores)`,
    "",
    "| server | after known median | after unknown median | ratio | after known p90 | after unknown p90 | ratio | lead known median | lead unknown median |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.mode} | ${ms(r.afterKnown.median)} ms | ${ms(r.afterUnknown.median)} ms | ${(r.afterKnown.median / r.afterUnknown.median).toFixed(2)}x | ` +
        `${ms(r.afterKnown.p90)} ms | ${ms(r.afterUnknown.p90)} ms | ${(r.afterKnown.p90 / r.afterUnknown.p90).toFixed(2)}x | ` +
        `${ms(r.leadKnown.median)} ms | ${ms(r.leadUnknown.median)} ms |`,
    );
  }
  const queued = results.find((r) => r.mode === "queued")!;
  const ok = queued.afterKnown.median <= TARGET_RATIO * queued.afterUnknown.median && queued.afterKnown.p90 <= TARGET_RATIO * queued.afterUnknown.p90;
  lines.push("", `queued: after known ${ok ? "within" : "NOT within"} ${TARGET_RATIO}x of after unknown at the median and p90`);
  return lines.join("\n");
}

if (!fs.existsSync(path.join(REPO, "dist/src/cli/main.js"))) throw new Error("dist/ is missing: run `npm run build` first");
const root = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-cp-timing-"));
try {
  const results: ModeResult[] = [];
  for (const mode of MODES) {
    log(`${mode.name}: starting`);
    results.push(await measure(mode, root));
  }
  process.stdout.write(report(results) + "\n");
} finally {
  agent.destroy();
  if (flags.keep) log(`kept ${root}`);
  else fs.rmSync(root, { recursive: true, force: true });
}
