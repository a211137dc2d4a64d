/** The servers latchkey is measured beside: better-auth, and connect-node's bare no-op and bare durable append. */
import { spawn } from "node:child_process";
import path from "node:path";
import { REPO, SERVER_CORE, pinned, serverHandle, waitForLine, type Output, type Server } from "./latchkey.js";
import { freePort } from "./util.js";

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

/** connect-node alone: `noop` answers a constant, `append` a PasswordReset after a durable append (see each script). */
export type BareKind = "noop" | "append";
export const BARE_SCRIPTS: Record<BareKind, string> = {
  noop: "bench/bare/noop_server.ts",
  append: "bench/bare/append_server.ts",
};

/**
 * `node --import tsx bench/bare/<kind>_server.ts` on the server's core (or on
 * `setup.cores`, serving from `setup.threads` threads). tsx only
 * compiles the file as it is loaded; the requests run plain JavaScript.
 * `token` is sent along (and ignored) so its requests are byte for byte latchkey's.
 */
export async function startBare(
  port: number,
  token: string,
  kind: BareKind = "noop",
  setup: { threads: number; cores: string } = { threads: 1, cores: SERVER_CORE },
  stdout?: Output,
): Promise<Server> {
  const args = [...(stdout?.nodeArgs ?? []), "--import", "tsx", path.join(REPO, BARE_SCRIPTS[kind]), String(port), String(setup.threads)];
  const child = spawn("taskset", pinned(setup.cores, process.execPath, args), {
    cwd: REPO,
    stdio: ["ignore", stdout ? "pipe" : "ignore", "pipe"],
  });
  if (stdout) child.stdout!.on("data", stdout.read);
  const url = await waitForLine(child, /bare connect-node(?: append)? listening on (\S+);/);
  return serverHandle(child, url, port, token, setup.cores);
}

/** Runs `fn` against a bare server of its own on a free port, and stops the server after. */
export async function withBare(token: string, kind: BareKind, fn: (server: Server) => Promise<void>, setup?: { threads: number; cores: string }): Promise<void> {
  const server = await startBare(await freePort(), token, kind, setup);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}
