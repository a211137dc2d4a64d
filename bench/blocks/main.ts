/**
 * The main block: PasswordReset and latchkey's own no-op over gRPC, Connect
 * JSON and REST at saturation, better-auth beside them, rounds interleaved;
 * then each PasswordReset at half of its saturation throughput.
 */
import path from "node:path";
import { config } from "../lib/config.js";
import type { Server } from "../lib/latchkey.js";
import { warmAndMeasure, type Measurement } from "../lib/measure.js";
import { httpCall } from "../lib/preflight.js";
import { startPeer } from "../lib/servers.js";
import { restore } from "../lib/stores.js";
import { PROTOCOLS, peerTarget, preflight } from "../lib/targets.js";
import { freePort, log, median } from "../lib/util.js";
import type { ScaleContext } from "./context.js";

export async function mainBlock(ctx: ScaleContext): Promise<Measurement[]> {
  const { seeded: s } = ctx;
  const users = s.users;
  const peerWork = path.join(ctx.root, "peer");
  const runs: Measurement[] = [];
  const withPeer = async <T>(fn: (server: Server) => Promise<T>): Promise<T> => {
    restore(s.peerSnapshot!, peerWork);
    const server = await startPeer(peerWork, await freePort());
    try {
      return await fn(server);
    } finally {
      await server.stop();
    }
  };

  // saturation, rounds interleaved so drift and noise spread over every protocol
  for (let round = 1; round <= config.rounds; round++) {
    log(`${users} users, round ${round}/${config.rounds}`);
    for (const protocol of PROTOCOLS) {
      await ctx.withLatchkey(async (server) => {
        if (round === 1) await preflight(server, s.ids);
        for (const call of ["reset", "noop"] as const) runs.push(await warmAndMeasure(ctx.target(server, protocol, call), round));
      });
    }
    if (s.peerSnapshot) {
      await withPeer(async (server) => {
        if (round === 1) {
          const r = await httpCall(`${server.url}/api/auth/request-password-reset`, undefined, JSON.stringify({ email: "bench-user-0@example.com" }));
          if (r.status !== 200) throw new Error(`better-auth answered ${r.status}: ${r.text}`);
        }
        runs.push(await warmAndMeasure(peerTarget(server, peerWork, s.emailsFile, users), round));
      });
    }
  }

  // latency at a fixed offered rate: half of the median saturation throughput
  log(`${users} users, fixed rate (half of saturation)`);
  const half = (label: string) => median(runs.filter((m) => m.label === label && m.offeredRps === undefined).map((m) => m.rps)) / 2;
  for (const protocol of PROTOCOLS) {
    const rate = half(`${protocol} reset`);
    await ctx.withLatchkey(async (server) => void runs.push(await warmAndMeasure(ctx.target(server, protocol, "reset"), 1, rate)));
  }
  if (s.peerSnapshot) {
    const rate = half("peer reset");
    await withPeer(async (server) => void runs.push(await warmAndMeasure(peerTarget(server, peerWork, s.emailsFile, users), 1, rate)));
  }
  return runs;
}
