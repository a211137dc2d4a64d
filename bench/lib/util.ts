/** Small helpers of the benchmark: processes, ports, /proc CPU time, statistics. */
import { spawn, spawnSync, type SpawnOptions } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and collects its output; never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port nothing listens on now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

let ticks: number | undefined;
/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK). */
export function clockTicks(): number {
  ticks ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  return ticks;
}

/** utime and stime of a process (all its threads) in seconds, from /proc/<pid>/stat. */
export function cpuTimes(pid: number): { user: number; system: number } {
  return statTimes(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
}

/** utime and stime in seconds from the text of a /proc stat file (a process's or a thread's). */
function statTimes(stat: string): { user: number; system: number } {
  // the command name may hold spaces and parentheses: fields count from the last ')'
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15
  return { user: Number(fields[11]) / clockTicks(), system: Number(fields[12]) / clockTicks() };
}

/** A file under /proc, or undefined once its process or thread has ended. */
function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The thread ids of a process; none once it has ended. */
function threadIds(pid: number): string[] {
  try {
    return fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/** utime + stime of a process in seconds. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** A process and all its descendants, the process first, from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const tid of threadIds(p)) {
      const children = readProc(`/proc/${p}/task/${tid}/children`) ?? "";
      for (const c of children.trim().split(/\s+/)) if (c) visit(Number(c));
    }
  };
  visit(pid);
  return out;
}

/** utime + stime in seconds of the threads of a process tree whose name is `name` (V8's helper threads are "V8Worker"). */
export function threadCpuSeconds(pid: number, name: string): number {
  let seconds = 0;
  for (const p of processTree(pid)) {
    for (const tid of threadIds(p)) {
      const stat = readProc(`/proc/${p}/task/${tid}/stat`);
      if (stat === undefined || stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) !== name) continue;
      const t = statTimes(stat);
      seconds += t.user + t.system;
    }
  }
  return seconds;
}

export interface TreeTimes {
  /** utime + stime of every process of the tree, seconds */
  total: number;
  /** stime of every process of the tree, seconds */
  system: number;
  /** utime + stime per pid, the root first */
  byPid: [number, number][];
}

/**
 * CPU time of a process tree. A process that exits between two readings takes
 * its time with it (into its parent's cutime, which is not read here): callers
 * compare the pids of both readings.
 */
export function treeCpuTimes(pid: number): TreeTimes {
  const result: TreeTimes = { total: 0, system: 0, byPid: [] };
  for (const p of processTree(pid)) {
    let t: { user: number; system: number };
    try {
      t = cpuTimes(p);
    } catch {
      continue;
    }
    result.total += t.user + t.system;
    result.system += t.system;
    result.byPid.push([p, t.user + t.system]);
  }
  return result;
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0..100) of values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export interface CoreTimes {
  /** seconds the core spent on anything but idle and iowait */
  busy: number;
  /** seconds the hypervisor gave to others (steal) */
  steal: number;
}

/** Busy and steal seconds of some cores since boot, summed, from /proc/stat. */
export function coreTimes(cores: readonly number[]): CoreTimes {
  const stat = fs.readFileSync("/proc/stat", "utf8").split("\n");
  const sum: CoreTimes = { busy: 0, steal: 0 };
  const t = clockTicks();
  for (const core of cores) {
    const line = stat.find((l) => l.startsWith(`cpu${core} `));
    if (!line) return { busy: NaN, steal: NaN };
    // user nice system idle iowait irq softirq steal guest guest_nice
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    sum.busy += (v[0]! + v[1]! + v[2]! + v[5]! + v[6]!) / t;
    sum.steal += (v[7] ?? 0) / t;
  }
  return sum;
}
