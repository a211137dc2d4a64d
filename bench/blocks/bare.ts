/**
 * The bare block: latchkey's PasswordReset and no-op against connect-node's
 * bare no-op (bench/bare/noop_server.ts) and its bare durable append
 * (bench/bare/append_server.ts: PasswordReset as one durable append and
 * nothing else), over gRPC and Connect JSON; REST PasswordReset and no-op
 * against the bare Connect JSON ones (the REST no-op runs every per-call
 * feature without connect-node). Per protocol, latchkey and the bare servers take
 * turns, their order reversed each round. Then latchkey's PasswordReset, the
 * bare no-op and the bare append, each at half of its own saturation (the
 * latency target's load), to tell the tail of the stack and the machine from
 * latchkey's own.
 */
import fs from "node:fs";
import path from "node:path";
import { ADMIN_TOKEN_FILE } from "../../src/eventstore/data_dir.js";
import { config } from "../lib/config.js";
import { warmAndMeasure, type Measurement } from "../lib/measure.js";
import { withBare, type BareKind } from "../lib/servers.js";
import { bareTarget, barePreflight, preflight, type Call, type Protocol } from "../lib/targets.js";
import { log, median } from "../lib/util.js";
import { roundOrder, type ScaleContext } from "./context.js";

/** What latchkey answers in each protocol's turn, and whether the bare server has a turn beside it. */
const GROUPS: { protocol: Protocol; calls: Call[]; bare: boolean }[] = [
  { protocol: "grpc", calls: ["reset", "noop"], bare: true },
  { protocol: "connect", calls: ["reset", "noop"], bare: true },
  { protocol: "rest", calls: ["reset", "noop"], bare: false },
];

export async function bareBlock(ctx: ScaleContext): Promise<Measurement[]> {
  const { seeded: s } = ctx;
  const runs: Measurement[] = [];
  // the bare server ignores the token; sent along, it keeps the requests byte for byte latchkey's
  const token = fs.readFileSync(path.join(s.snapshot, ADMIN_TOKEN_FILE), "utf8").trim();
  for (let round = 1; round <= config.rounds; round++) {
    log(`${s.users} users, bare connect-node, round ${round}/${config.rounds}`);
    for (const group of GROUPS) {
      const latchkeyTurn = () =>
        ctx.withLatchkey(async (server) => {
          if (round === 1) await preflight(server, s.ids, group.calls);
          for (const call of group.calls) {
            runs.push(await warmAndMeasure({ ...ctx.target(server, group.protocol, call), tags: { server: "latchkey" } }, round));
          }
        });
      const bareTurn = (kind: BareKind) => () =>
        withBare(token, kind, async (server) => {
          const call = kind === "noop" ? "noop" : "reset";
          if (round === 1) await barePreflight(server, s.ids, call);
          const protocol = group.protocol as "grpc" | "connect";
          runs.push(await warmAndMeasure(bareTarget(server, protocol, call, s.ids, s.idsFile, ctx.h2work), round));
        });
      const turns = group.bare ? [latchkeyTurn, bareTurn("noop"), bareTurn("append")] : [latchkeyTurn];
      for (const turn of roundOrder(turns, round)) await turn();
    }
  }

  // the latency target: each server at half of its own saturation throughput above
  const halfOf = (label: string, server: "latchkey" | "bare") =>
    median(runs.filter((m) => m.label === label && m.server === server && m.offeredRps === undefined).map((m) => m.rps)) / 2;
  for (let round = 1; round <= config.rounds; round++) {
    log(`${s.users} users, each server at half of its saturation, round ${round}/${config.rounds}`);
    for (const protocol of ["grpc", "connect"] as const) {
      const latchkeyTurn = () =>
        ctx.withLatchkey(async (server) => {
          const target = { ...ctx.target(server, protocol, "reset"), tags: { server: "latchkey" as const } };
          runs.push(await warmAndMeasure(target, round, halfOf(`${protocol} reset`, "latchkey")));
        });
      const bareTurn = (kind: BareKind) => () =>
        withBare(token, kind, async (server) => {
          const call = kind === "noop" ? "noop" : "reset";
          runs.push(await warmAndMeasure(bareTarget(server, protocol, call, s.ids, s.idsFile, ctx.h2work), round, halfOf(`${protocol} ${call}`, "bare")));
        });
      for (const turn of roundOrder([latchkeyTurn, bareTurn("noop"), bareTurn("append")], round)) await turn();
    }
  }
  return runs;
}
