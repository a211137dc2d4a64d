/** The load generators: h2load (Debian nghttp2-client), wrk and taskset; installed with apt-get when root. */
import { spawnSync } from "node:child_process";
import { which } from "./util.js";

const NEEDED = [
  { cmd: "h2load", pkg: "nghttp2-client" },
  { cmd: "wrk", pkg: "wrk" },
  { cmd: "taskset", pkg: "util-linux" },
  { cmd: "getconf", pkg: "libc-bin" },
] as const;

export class MissingToolsError extends Error {}

export function ensureTools(): void {
  const missing = NEEDED.filter((t) => !which(t.cmd));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root && which("apt-get")) {
    process.stderr.write(`[bench] installing ${pkgs.join(" ")} with apt-get\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    const r = spawnSync("apt-get", ["install", "-y", "-qq", ...pkgs], { stdio: "inherit", env });
    const still = NEEDED.filter((t) => !which(t.cmd));
    if (r.status === 0 && still.length === 0) return;
  }
  throw new MissingToolsError(
    `missing ${missing.map((t) => t.cmd).join(", ")}; install them with:\n  sudo apt-get install ${pkgs.join(" ")}\n` +
      `(h2load is in Debian/Ubuntu's nghttp2-client package)`,
  );
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout}${r.stderr}`.split("\n").find((l) => l.trim() !== "")?.trim() ?? "unknown";
}

export interface ToolVersions {
  h2load: string;
  wrk: string;
}

export function toolVersions(): ToolVersions {
  return { h2load: firstLine("h2load", ["--version"]), wrk: firstLine("wrk", ["-v"]) };
}
