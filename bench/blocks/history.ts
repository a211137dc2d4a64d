/**
 * The history block: the same few users' PasswordReset (Connect JSON) with
 * fresh histories and after each has had thousands of resets, both stores
 * measured in every round, their order flipped each round.
 */
import fs from "node:fs";
import path from "node:path";
import { config } from "../lib/config.js";
import { seedDirect, startLatchkey } from "../lib/latchkey.js";
import { warmAndMeasure, type Measurement } from "../lib/measure.js";
import { countUserEvents, growHistories, restore } from "../lib/stores.js";
import { latchkeyTarget, preflight } from "../lib/targets.js";
import { freePort, log } from "../lib/util.js";
import { writeIds } from "../lib/wrk.js";
import { roundOrder } from "./context.js";

export interface HistoryResult {
  users: number;
  /** events per user in each store when seeded */
  eventsPerUser: { fresh: number; long: number };
  seedSeconds: number;
  runs: Measurement[];
}

export async function historyBlock(root: string): Promise<HistoryResult> {
  fs.mkdirSync(root, { recursive: true });
  const users = config.historyUsers;
  const started = performance.now();
  log(`history: ${users} users, fresh and with ${config.historyEvents} events each`);
  const fresh = path.join(root, "fresh-seeded");
  const long = path.join(root, "long-seeded");
  fs.mkdirSync(fresh, { recursive: true });
  // the first start creates the instance: organization, admin, token, key
  await (await startLatchkey({ dataDir: fresh, port: await freePort() })).stop();
  const ids = seedDirect(fresh, users);
  restore(fresh, long);
  growHistories(long, ids, config.historyEvents);
  const seedSeconds = (performance.now() - started) / 1000;
  const idsFile = writeIds(path.join(root, "ids.txt"), ids);
  const work = path.join(root, "latchkey");
  const stores = [
    { history: "fresh" as const, snapshot: fresh },
    { history: "long" as const, snapshot: long },
  ];
  const runs: Measurement[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    log(`history, round ${round}/${config.rounds}`);
    for (const store of roundOrder(stores, round)) {
      restore(store.snapshot, work);
      const server = await startLatchkey({ dataDir: work, port: await freePort() });
      try {
        if (round === 1) await preflight(server, ids, ["reset"]);
        const t = latchkeyTarget(server, work, "connect", "reset", ids, idsFile, path.join(root, "h2load"));
        // a longer warm-up would give the fresh users long histories before they are measured
        runs.push(await warmAndMeasure({ ...t, tags: { history: store.history } }, round, undefined, true));
      } finally {
        await server.stop();
      }
    }
  }
  const eventsPerUser = { fresh: eventsOf(fresh, ids), long: eventsOf(long, ids) };
  return { users, eventsPerUser, seedSeconds, runs };
}

/** Events per user, averaged over the users, in a stopped server's store. */
function eventsOf(dataDir: string, ids: readonly string[]): number {
  return countUserEvents(dataDir, ids) / ids.length;
}
