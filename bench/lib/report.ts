/** Markdown tables from a results JSON of bench/run.ts. */
import { NAMES, PROTOCOLS, figures, n0, n2, pct, workerFigures, x, type Scale } from "./figures.js";
import { profileMarkdown, type ProfileSummary } from "./profile.js";
import { bareAtRate, bareAtRateTable, bareFigures, bareTable, historyFigures, historyTable, postgresTable } from "./report_blocks.js";

export { summarize } from "./report_blocks.js";

export interface Results {
  machine: Record<string, unknown>;
  config: Record<string, unknown>;
  scales: Scale[];
  profiles: ProfileSummary[];
}

export function targets(results: Results): { target: string; measured: string; met: boolean | undefined }[] {
  const out: { target: string; measured: string; met: boolean | undefined }[] = [];
  const small = results.scales.find((s) => s.users <= 1000) ?? results.scales[0];
  const big = results.scales.find((s) => s !== small);
  if (!small) return out;
  for (const p of PROTOCOLS) {
    const r = figures(small, `${p} reset`);
    const n = figures(small, `${p} noop`);
    if (r && n) {
      const ratio = r.rps / n.rps;
      out.push({ target: `${NAMES[p]}: PasswordReset ≥ 85 % of latchkey's no-op's throughput`, measured: pct(ratio), met: ratio >= 0.85 });
    }
  }
  // the issue's own form of that target: against connect-node alone (the bare block), with the floor beside it
  for (const row of bareFigures(small)) {
    if (!row.resetOverBare) continue;
    const floor = row.appendOverBare && row.resetOverAppend
      ? `; the bare append (one durable append per call) ${pct(row.appendOverBare.rps)} of it, PasswordReset ${pct(row.resetOverAppend.rps)} of the bare append at ${x(row.resetOverAppend.cpu)} its CPU per request`
      : "";
    out.push({
      target: `${NAMES[row.protocol]}: PasswordReset ≥ 85 % of the bare connect-node no-op's throughput${row.protocol === "rest" ? " (Connect JSON)" : ""}`,
      measured: `${pct(row.resetOverBare.rps)}${floor}`,
      met: row.resetOverBare.rps >= 0.85,
    });
  }
  const peer = figures(small, "peer reset");
  for (const p of PROTOCOLS) {
    const r = figures(small, `${p} reset`);
    if (!r) continue;
    if (!peer) {
      out.push({ target: `${NAMES[p]}: ≥ 5× better-auth's throughput at ≤ 1/5 of its CPU per request`, measured: "better-auth not measured", met: undefined });
      continue;
    }
    const t = r.rps / peer.rps;
    const c = r.cpuUs / peer.cpuUs;
    out.push({
      target: `${NAMES[p]}: ≥ 5× better-auth's throughput at ≤ 1/5 of its CPU per request`,
      measured: `${x(t)} throughput, ${x(c)} CPU per request`,
      met: t >= 5 && c <= 0.2,
    });
  }
  if (small.history) {
    const h = small.history;
    const ratio = historyFigures(h).longOverFresh;
    out.push({
      target: `History: PasswordReset (Connect JSON) for users with ${n0(h.eventsPerUser.long)} events each ÷ the same users with ${n0(h.eventsPerUser.fresh)}: ≥ 0.9× throughput, ≤ 1.1× CPU per request`,
      measured: ratio ? `${x(ratio.rps)} throughput, ${x(ratio.cpu)} CPU per request` : "no figures",
      met: ratio ? ratio.rps >= 0.9 && ratio.cpu <= 1.1 : undefined,
    });
  }
  for (const p of PROTOCOLS) {
    const f = figures(small, `${p} reset`, true);
    if (!f) continue;
    const bare = bareAtRate(small).find((row) => row.protocol === p);
    const floor =
      bare?.reset && bare.append && bare.bare
        ? `; bare block, each at half of its own saturation: PasswordReset ${n2(bare.reset.p99)} ms, the bare append ${n2(bare.append.p99)} ms, the bare no-op ${n2(bare.bare.p99)} ms`
        : "";
    out.push({ target: `${NAMES[p]}: p99 ≤ 10 ms at half of saturation`, measured: `${n2(f.p99)} ms${floor}`, met: f.p99 <= 10 });
  }
  if (big) {
    for (const p of PROTOCOLS) {
      const a = figures(small, `${p} reset`, true);
      const b = figures(big, `${p} reset`, true);
      if (a && b) {
        out.push({
          target: `${NAMES[p]}: p99 with ${big.users.toLocaleString("en")} users ≤ 1.2× p99 with ${small.users.toLocaleString("en")} (half of saturation)`,
          measured: `${n2(b.p99)} / ${n2(a.p99)} ms = ${x(b.p99 / a.p99)}`,
          met: b.p99 <= 1.2 * a.p99,
        });
      }
    }
  } else if (small.runs.length > 0) {
    out.push({ target: "p99 with 1,000,000 users ≤ 1.2× p99 with 1,000", measured: "not run (npm run bench -- --scale)", met: undefined });
  }
  const workersScale = results.scales.find((s) => s.workerRuns && s.workerRuns.length > 0);
  let workersRows = 0;
  for (const p of workersScale ? PROTOCOLS : []) {
    const one = workerFigures(workersScale!, p, 1);
    const two = workerFigures(workersScale!, p, 2);
    if (!one || !two) continue;
    workersRows++;
    const c = two.cpuUs / one.cpuUs;
    // the same two set-ups for connect-node alone (REST is compared with Connect JSON's)
    const bareProtocol = p === "rest" ? "connect" : p;
    const bare = (["bare no-op", "bare append"] as const).flatMap((server) => {
      const [b1, b2] = [1, 2].map((n) => workerFigures(workersScale!, bareProtocol, n, server));
      return b1 && b2 ? [`${server} ${x(b2.cpuUs / b1.cpuUs)}`] : [];
    });
    out.push({
      target: `${NAMES[p]}: \`--workers 2\` (server on cores ${two.cores}, load generator pinned to core 1): CPU per request does not grow (≤ 1.10× \`--workers 1\`'s on core ${one.cores}, a noise margin)`,
      measured:
        `${x(two.rps / one.rps)} throughput (${n0(two.rps)} vs ${n0(one.rps)} req/s), ${x(c)} CPU per request (${n0(two.cpuUs)} vs ${n0(one.cpuUs)} µs)` +
        (bare.length > 0 ? `; connect-node alone with 2 threads ÷ 1 on the same cores${p === "rest" ? " (Connect JSON)" : ""}: ${bare.join(", ")} CPU per request` : ""),
      met: c <= 1.1,
    });
  }
  if (workersRows === 0 && small.runs.length > 0) {
    out.push({ target: "`--workers 2`: throughput and CPU per request", measured: "not run (the --workers block runs by default, or alone with --only workers)", met: undefined });
  }
  return out;
}

export function scaleMarkdown(scale: Scale): string {
  const lines: string[] = [];
  lines.push(`### ${scale.users.toLocaleString("en")} users`);
  lines.push("");
  lines.push(
    `Store: ${scale.storeEvents.toLocaleString("en")} events, ${(scale.storeBytes / 2 ** 20).toFixed(1)} MiB, seeded ${scale.seeding} in ${scale.seedSeconds.toFixed(0)} s.`,
  );
  const drift = [...scale.runs, ...(scale.bareRuns ?? []), ...(scale.workerRuns ?? [])].filter((m) => m.label.endsWith("reset") && m.eventsPerUserAfter !== undefined);
  if (drift.length > 0) {
    const before = Math.min(...drift.map((m) => m.eventsPerUserBefore!));
    const after = Math.max(...drift.map((m) => m.eventsPerUserAfter!));
    lines.push(`Events per user while measured (every block starts from the seeded copy): ${before.toFixed(2)} to ${after.toFixed(2)}.`);
  }
  lines.push("");
  if (scale.runs.length > 0) mainTables(scale, lines);
  if (scale.bareRuns && scale.bareRuns.length > 0) {
    bareTable(scale, lines);
    bareAtRateTable(scale, lines);
  }
  if (scale.history) historyTable(scale.history, lines);
  if (scale.postgres) postgresTable(scale.postgres, lines);
  if (scale.workerRuns && scale.workerRuns.length > 0) workersTable(scale, lines);
  return lines.join("\n");
}

function mainTables(scale: Scale, lines: string[]): void {
  lines.push("Saturation (16 requests in flight), medians of the rounds:");
  lines.push("");
  lines.push("| protocol | call | req/s | req/s per round | server CPU µs/req (of it kernel) | server core busy (others on it) | p50 ms | p99 ms | reset ÷ no-op req/s | reset ÷ no-op CPU/req |");
  lines.push("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const p of PROTOCOLS) {
    const r = figures(scale, `${p} reset`);
    const n = figures(scale, `${p} noop`);
    for (const [call, f] of [["PasswordReset", r], ["no-op", n]] as const) {
      if (!f) continue;
      const ratio = call === "PasswordReset" && n ? `${pct(f.rps / n.rps)} | ${x(f.cpuUs / n.cpuUs)}` : " | ";
      lines.push(
        `| ${NAMES[p]} | ${call}${f.ok ? "" : " (check failed)"} | ${n0(f.rps)} | ${f.perRound.map(n0).join(" / ")} | ${n0(f.cpuUs)} (${n0(f.sysUs)}) | ${pct(f.share)} (${pct(f.others)}) | ${n2(f.p50)} | ${n2(f.p99)} | ${ratio} |`,
      );
    }
  }
  const peer = figures(scale, "peer reset");
  if (peer) {
    lines.push(`| better-auth (HTTP/1.1 JSON) | request-password-reset | ${n0(peer.rps)} | ${peer.perRound.map(n0).join(" / ")} | ${n0(peer.cpuUs)} (${n0(peer.sysUs)}) | ${pct(peer.share)} (${pct(peer.others)}) | ${n2(peer.p50)} | ${n2(peer.p99)} | | |`);
  } else {
    lines.push(`| better-auth | request-password-reset | | | | | | | | |`);
  }
  lines.push("");
  if (peer) {
    lines.push("Against better-auth (latchkey ÷ better-auth):");
    lines.push("");
    lines.push("| protocol | throughput | CPU per request |", "| --- | ---: | ---: |");
    for (const p of PROTOCOLS) {
      const r = figures(scale, `${p} reset`);
      if (r) lines.push(`| ${NAMES[p]} | ${x(r.rps / peer.rps)} | ${x(r.cpuUs / peer.cpuUs)} |`);
    }
    lines.push("");
  } else {
    lines.push(`better-auth: ${scale.peer.reason ?? "not measured"}.`);
    lines.push("");
  }
  lines.push("At a fixed offered rate, half of the saturation throughput above:");
  lines.push("");
  lines.push("| protocol | offered req/s | answered req/s | server CPU µs/req (of it kernel) | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const label of [...PROTOCOLS.map((p) => `${p} reset`), "peer reset"]) {
    const run = scale.runs.find((m) => m.label === label && m.offeredRps !== undefined);
    if (!run) continue;
    const name = label === "peer reset" ? "better-auth" : NAMES[label.split(" ")[0]!];
    lines.push(`| ${name} | ${run.offeredRps} | ${n0(run.rps)} | ${n0(run.cpuPerRequestUs)} (${n0(run.systemCpuPerRequestUs ?? NaN)}) | ${n2(run.p50Ms)} | ${n2(run.p99Ms)} |`);
  }
  lines.push("");
}

function workersTable(scale: Scale, lines: string[]): void {
  lines.push(
    "`--workers`: PasswordReset at saturation (16 requests in flight), medians of the rounds, every set-up measured in every round (order flipped each round), " +
      "each from the seeded copy. The load generator stays on core 1: with `--workers 2` one worker shares that core with it. " +
      "Beside latchkey, over gRPC and Connect JSON, connect-node's bare no-op and bare durable append, served from as many threads (SO_REUSEPORT) on the same cores. " +
      "Server CPU is summed over the whole process tree (primary and workers); \"others\" is what else ran on the server's cores, with `--workers 2` the load generator and the harness included.",
  );
  lines.push("");
  lines.push(
    "| protocol | server | req/s | req/s per round | server CPU µs/req (of it kernel) | server CPU, cores (others on its cores) | CPU by process, primary / workers | p50 ms | p99 ms | 2 ÷ 1 req/s | 2 ÷ 1 CPU/req |",
  );
  lines.push("| --- | --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
  for (const p of PROTOCOLS) {
    for (const server of ["latchkey", "bare no-op", "bare append"] as const) {
      const one = workerFigures(scale, p, 1, server);
      for (const n of [1, 2]) {
        const f = workerFigures(scale, p, n, server);
        if (!f) continue;
        const ratio = n > 1 && one ? `${x(f.rps / one.rps)} | **${x(f.cpuUs / one.cpuUs)}**` : " | ";
        const byProcess = f.byProcess.length > 0 ? f.byProcess.map((v) => pct(v)).join(" / ") : "one process";
        const who = server === "latchkey" ? `\`--workers ${n}\`` : `${server}, ${n} thread${n > 1 ? "s" : ""}`;
        lines.push(
          `| ${NAMES[p]} | ${who}, core${f.cores.includes(",") ? "s" : ""} ${f.cores}${f.ok ? "" : " (check failed)"} | ${n0(f.rps)} | ${f.perRound.map(n0).join(" / ")} | ` +
            `${n0(f.cpuUs)} (${n0(f.sysUs)}) | ${n2(f.share)} (${n2(f.others)}) | ${byProcess} | ${n2(f.p50)} | ${n2(f.p99)} | ${ratio} |`,
        );
      }
    }
  }
  lines.push("");
}



function warmupWords(c: Record<string, unknown>): string {
  // runs before --warmup-max have no warmupMaxS
  if (c.warmupMaxS === undefined || Number(c.warmupMaxS) <= Number(c.warmupS)) return `${String(c.warmupS)} s warm-up`;
  return (
    `at least ${String(c.warmupS)} s of warm-up, then 2 s more at a time until V8's helper threads took under ` +
    `${pct(Number(c.jitSettledShare))} of the server's CPU (at most ${String(c.warmupMaxS)} s; the history block: ${String(c.warmupS)} s)`
  );
}

/** The range of warm-up seconds per server kind over every measurement of the run. */
function warmupsByServer(scales: readonly Scale[]): string[] {
  const byServer = new Map<string, number[]>();
  for (const s of scales) {
    const all = [...s.runs, ...(s.bareRuns ?? []), ...(s.workerRuns ?? []), ...(s.postgres?.runs ?? [])];
    for (const m of all) {
      if (m.warmupSeconds === undefined) continue;
      const who = m.label.startsWith("peer") ? "better-auth" : m.server === "bare" ? "bare connect-node" : "latchkey";
      byServer.set(who, [...(byServer.get(who) ?? []), m.warmupSeconds]);
    }
  }
  return [...byServer].map(([who, secs]) => `${who} ${n0(Math.min(...secs))}–${n0(Math.max(...secs))}`);
}

export function renderMarkdown(results: Results): string {
  const m = results.machine;
  const lines: string[] = [];
  lines.push(`## Run of ${String(m.date)}`);
  lines.push("");
  lines.push(
    `Machine: ${String(m.nproc)} cores (${String(m.cpuModel)}), ${String(m.memory)}, Linux ${String(m.kernel)}; node ${String(m.node)}, npm ${String(m.npm)}; ` +
      `${String(m.h2load)}; ${String(m.wrk)}; better-auth ${String(m.betterAuth)}; commit ${String(m.commit)}; load average at start ${String(m.loadAverageAtStart)}. ${String(m.pinning)}.`,
  );
  const c = results.config;
  lines.push("");
  lines.push(`Each figure: ${warmupWords(c)}, then ${String(c.durationS)} s measured; ${String(c.rounds)} round(s), median shown.`);
  const warmups = warmupsByServer(results.scales);
  if (warmups.length > 0) lines.push(`Warm-up each server got, seconds (least–most): ${warmups.join("; ")}.`);
  lines.push("");
  for (const s of results.scales) lines.push(scaleMarkdown(s));
  const t = targets(results);
  if (t.length > 0 && results.scales.length > 0) {
    lines.push("### Targets of the write-path issue");
    lines.push("");
    lines.push("| target | measured | met |", "| --- | --- | --- |");
    for (const r of t) lines.push(`| ${r.target} | ${r.measured} | ${r.met === undefined ? "–" : r.met ? "yes" : "**no**"} |`);
    lines.push("");
  }
  if (results.profiles.length > 0) {
    lines.push("### Profiles");
    lines.push("");
    for (const p of results.profiles) lines.push(profileMarkdown(p));
  }
  return lines.join("\n");
}

if (process.argv[1]?.endsWith("report.ts") && process.argv[2]) {
  const fs = await import("node:fs");
  process.stdout.write(renderMarkdown(JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as Results));
}
