/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and adds up time by function and
 * file: self time (the function was on top of the stack) and total time (it
 * was anywhere on the stack, counted once per sample). The profiler samples
 * the main thread by wall clock, so a synchronous wait inside a native call
 * (SQLite's fsync under better-sqlite3) counts as that call's self time, and
 * "(idle)" is the event loop waiting.
 */
import fs from "node:fs";
import path from "node:path";
import { REPO } from "./latchkey.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  function: string;
  location: string;
  category: string;
  ms: number;
  /** of busy time (everything but "(idle)") */
  pct: number;
}

export interface ProfileSummary {
  label: string;
  file: string;
  load?: { rps: number; cpuPerRequestUs: number; p99Ms: number };
  wallMs: number;
  busyMs: number;
  idleMs: number;
  self: Row[];
  total: Row[];
  categories: { category: string; ms: number; pct: number }[];
  /** time inside better-sqlite3 (its JS and native calls, fsync waits included) by the first caller outside it */
  sqliteByCaller: Row[];
}

/** better-sqlite3's native methods: they show with no file */
const SQLITE_NATIVE = new Set(["all", "get", "run", "iterate", "exec", "prepare", "pragma", "raw", "pluck", "bind", "columns"]);

function location(url: string, line: number): string {
  if (url === "") return "";
  let u = url.replace(/^file:\/\//, "");
  if (u.startsWith(REPO + "/")) u = u.slice(REPO.length + 1);
  const nm = u.lastIndexOf("node_modules/");
  if (nm >= 0) u = u.slice(nm + "node_modules/".length);
  return `${u}:${line + 1}`;
}

export function categoryOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === "") {
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(idle)") return "idle";
    if (functionName === "(program)") return "(program): native, outside JS";
    return "native functions";
  }
  if (url.startsWith("node:")) {
    const m = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
    return `node:${m?.[1] ?? url}`;
  }
  const u = url.replace(/^file:\/\//, "");
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u.slice(u.lastIndexOf("node_modules/") >= 0 ? u.lastIndexOf("node_modules/") : 0));
  if (u.includes("node_modules/") && nm) return nm[1]!;
  const own = /(?:dist\/)?(src\/[a-z_]+|gen)\//.exec(u.startsWith(REPO) ? u.slice(REPO.length) : u);
  if (own) return `latchkey ${own[1]}`;
  return "other";
}

export function summarizeProfile(file: string, label: string, load?: { rps: number; cpuPerRequestUs: number; p99Ms: number }, top = 25): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (f: CallFrame) => `${f.functionName || "(anonymous)"}\t${location(f.url, f.lineNumber)}`;

  const self = new Map<string, { ms: number; category: string }>();
  const total = new Map<string, { ms: number; category: string }>();
  const categories = new Map<string, number>();
  const sqlite = new Map<string, { ms: number; category: string }>();
  let wall = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i; it is the best estimate of what sample i stands for
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    wall += ms;
    const leaf = byId.get(id)!;
    const category = categoryOf(leaf.callFrame);
    if (category === "idle") {
      idle += ms;
      return;
    }
    const k = keyOf(leaf.callFrame);
    const s = self.get(k) ?? { ms: 0, category };
    s.ms += ms;
    self.set(k, s);
    categories.set(category, (categories.get(category) ?? 0) + ms);
    // SQLite's share: climb out of better-sqlite3 to whoever called it
    {
      let n: number | undefined = id;
      let inSqlite = category === "native functions" && SQLITE_NATIVE.has(leaf.callFrame.functionName);
      while (n !== undefined) {
        const c = categoryOf(byId.get(n)!.callFrame);
        if (c === "better-sqlite3") inSqlite = true;
        else if (c !== "native functions") break;
        n = parent.get(n);
      }
      if (inSqlite && n !== undefined) {
        const caller = byId.get(n)!.callFrame;
        const key = keyOf(caller);
        const e = sqlite.get(key) ?? { ms: 0, category: categoryOf(caller) };
        e.ms += ms;
        sqlite.set(key, e);
      }
    }
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const node = byId.get(n)!;
      if (node.callFrame.functionName === "(root)") break;
      const key = keyOf(node.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      const t = total.get(key) ?? { ms: 0, category: categoryOf(node.callFrame) };
      t.ms += ms;
      total.set(key, t);
    }
  });
  const busy = wall - idle;
  const rows = (m: Map<string, { ms: number; category: string }>, filter: (r: Row) => boolean) =>
    [...m.entries()]
      .map(([k, v]) => {
        const [fn, loc] = k.split("\t");
        return { function: fn!, location: loc!, category: v.category, ms: v.ms, pct: (100 * v.ms) / busy };
      })
      .filter(filter)
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top);
  return {
    label,
    file: path.relative(REPO, file),
    ...(load && { load: { rps: load.rps, cpuPerRequestUs: load.cpuPerRequestUs, p99Ms: load.p99Ms } }),
    wallMs: wall,
    busyMs: busy,
    idleMs: idle,
    self: rows(self, () => true),
    // total time of our own code: where the work starts
    total: rows(total, (r) => r.category.startsWith("latchkey") || r.category === "better-sqlite3"),
    sqliteByCaller: rows(sqlite, () => true).slice(0, 12),
    categories: [...categories.entries()].map(([category, ms]) => ({ category, ms, pct: (100 * ms) / busy })).sort((a, b) => b.ms - a.ms),
  };
}

export function profileMarkdown(p: ProfileSummary): string {
  const f = (n: number) => n.toFixed(1);
  const lines: string[] = [];
  lines.push(`#### ${p.label}: \`${p.file}\``);
  lines.push("");
  if (p.load) {
    lines.push(`Under load while profiled: ${p.load.rps.toFixed(0)} req/s, ${p.load.cpuPerRequestUs.toFixed(0)} µs server CPU per request, p99 ${p.load.p99Ms.toFixed(1)} ms.`);
  }
  lines.push(`Sampled ${f(p.wallMs / 1000)} s of the main thread: busy ${f(p.busyMs / 1000)} s, idle ${f(p.idleMs / 1000)} s. Percentages are of busy time.`);
  lines.push("");
  lines.push("| by category (self time) | ms | % |", "| --- | ---: | ---: |");
  for (const c of p.categories.slice(0, 14)) lines.push(`| ${c.category} | ${f(c.ms)} | ${f(c.pct)} |`);
  lines.push("");
  lines.push("| top self time: function | where | ms | % |", "| --- | --- | ---: | ---: |");
  for (const r of p.self) lines.push(`| \`${r.function}\` | ${r.location || "(native)"} | ${f(r.ms)} | ${f(r.pct)} |`);
  lines.push("");
  const sqliteMs = p.sqliteByCaller.reduce((sum, r) => sum + r.ms, 0);
  if (sqliteMs > 0.01 * p.busyMs) {
    lines.push(`| inside better-sqlite3 (${f((100 * sqliteMs) / p.busyMs)} % of busy time), by caller | where | ms | % |`, "| --- | --- | ---: | ---: |");
    for (const r of p.sqliteByCaller) lines.push(`| \`${r.function}\` | ${r.location} | ${f(r.ms)} | ${f(r.pct)} |`);
    lines.push("");
  }
  if (p.total.length > 0) {
    lines.push("| total time (self + callees), latchkey and better-sqlite3 | where | ms | % |", "| --- | --- | ---: | ---: |");
    for (const r of p.total) lines.push(`| \`${r.function}\` | ${r.location} | ${f(r.ms)} | ${f(r.pct)} |`);
    lines.push("");
  }
  return lines.join("\n");
}
