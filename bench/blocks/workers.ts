/**
 * The --workers block: PasswordReset with `--workers 1` on the server's core
 * against `--workers 2` on both cores, the load generator staying on its core.
 * Beside each, over gRPC and Connect JSON, connect-node's bare no-op and bare
 * durable append (bench/bare/) served from as many threads on the same cores,
 * so that what a second serving thread costs on this machine shows apart from
 * what it costs latchkey. All in every round, their order flipped each round.
 */
import fs from "node:fs";
import path from "node:path";
import { ADMIN_TOKEN_FILE } from "../../src/eventstore/data_dir.js";
import { config } from "../lib/config.js";
import { warmAndMeasure, type Measurement } from "../lib/measure.js";
import { withBare, type BareKind } from "../lib/servers.js";
import { PROTOCOLS, bareTarget, barePreflight, preflight } from "../lib/targets.js";
import { log, processTree } from "../lib/util.js";
import { roundOrder, type ScaleContext } from "./context.js";

export async function workersBlock(ctx: ScaleContext): Promise<Measurement[]> {
  const { seeded: s } = ctx;
  const runs: Measurement[] = [];
  // the bare servers ignore the token; sent along, it keeps the requests byte for byte latchkey's
  const token = fs.readFileSync(path.join(s.snapshot, ADMIN_TOKEN_FILE), "utf8").trim();
  for (let round = 1; round <= config.rounds; round++) {
    log(`${s.users} users, --workers, round ${round}/${config.rounds}`);
    for (const protocol of PROTOCOLS) {
      const turns = config.workerSetups.flatMap((setup) => {
        const latchkeyTurn = () =>
          ctx.withLatchkey(async (server) => {
            // the serving threads are the one process's: its CPU is theirs too
            const processes = processTree(server.pid).length;
            if (processes !== 1) throw new Error(`--workers ${setup.workers}: ${processes} server processes, expected 1`);
            if (round === 1) await preflight(server, s.ids);
            runs.push(await warmAndMeasure({ ...ctx.target(server, protocol, "reset"), workers: setup.workers, tags: { server: "latchkey" } }, round));
          }, setup);
        if (protocol === "rest") return [latchkeyTurn];
        const bareTurn = (kind: BareKind) => () =>
          withBare(
            token,
            kind,
            async (server) => {
              const call = kind === "noop" ? "noop" : "reset";
              if (round === 1) await barePreflight(server, s.ids, call);
              runs.push(await warmAndMeasure({ ...bareTarget(server, protocol, call, s.ids, s.idsFile, ctx.h2work), workers: setup.workers }, round));
            },
            { threads: setup.workers, cores: setup.cores },
          );
        return [latchkeyTurn, bareTurn("noop"), bareTurn("append")];
      });
      for (const turn of roundOrder(turns, round)) await turn();
    }
  }
  return runs;
}
