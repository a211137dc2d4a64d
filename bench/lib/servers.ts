/** The servers latchkey is measured beside: better-auth, and connect-node's bare no-op. */
import { spawn } from "node:child_process";
import path from "node:path";
import { REPO, SERVER_CORE, pinned, serverHandle, waitForLine, type Server } from "./latchkey.js";

export async function startPeer(dataDir: string, port: number, cpuProfDir?: string): Promise<Server> {
  const script = path.join(REPO, "bench/peer/better-auth.mjs");
  const nodeArgs = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawn("taskset", pinned(SERVER_CORE, process.execPath, [...nodeArgs, script, "serve", dataDir, String(port)]), {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = await waitForLine(child, /better-auth listening on (\S+);/);
  return serverHandle(child, url, port, "");
}

export const BARE_SCRIPT = "bench/bare/noop_server.ts";

/**
 * `node --import tsx bench/bare/noop_server.ts` on the server's core. tsx only
 * compiles the file as it is loaded; the requests run plain JavaScript.
 * `token` is sent along (and ignored) so its requests are byte for byte latchkey's.
 */
export async function startBare(port: number, token: string): Promise<Server> {
  const child = spawn("taskset", pinned(SERVER_CORE, process.execPath, ["--import", "tsx", path.join(REPO, BARE_SCRIPT), String(port)]), {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = await waitForLine(child, /bare connect-node listening on (\S+);/);
  return serverHandle(child, url, port, token);
}
