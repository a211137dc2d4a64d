/**
 * The --workers block: PasswordReset with `--workers 1` on the server's core
 * against `--workers 2` on both cores, the load generator staying on its core;
 * both in every round, their order flipped each round.
 */
import { config } from "../lib/config.js";
import { warmAndMeasure, type Measurement } from "../lib/measure.js";
import { PROTOCOLS, preflight } from "../lib/targets.js";
import { log, processTree } from "../lib/util.js";
import { roundOrder, type ScaleContext } from "./context.js";

export async function workersBlock(ctx: ScaleContext): Promise<Measurement[]> {
  const { seeded: s } = ctx;
  const runs: Measurement[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    log(`${s.users} users, --workers, round ${round}/${config.rounds}`);
    const setups = roundOrder(config.workerSetups, round);
    for (const protocol of PROTOCOLS) {
      for (const setup of setups) {
        await ctx.withLatchkey(async (server) => {
          // the serving threads are the one process's: its CPU is theirs too
          const processes = processTree(server.pid).length;
          if (processes !== 1) throw new Error(`--workers ${setup.workers}: ${processes} server processes, expected 1`);
          if (round === 1) await preflight(server, s.ids);
          runs.push(await warmAndMeasure({ ...ctx.target(server, protocol, "reset"), workers: setup.workers }, round));
        }, setup);
      }
    }
  }
  return runs;
}
