/** What every block of one store size shares: the seeded store, work directories, and a server started from a fresh copy. */
import path from "node:path";
import { startLatchkey, type Server, type StartOptions } from "../lib/latchkey.js";
import { restore, type Seeded } from "../lib/stores.js";
import { latchkeyTarget, type Call, type Protocol } from "../lib/targets.js";
import type { Target } from "../lib/measure.js";
import { freePort } from "../lib/util.js";

export interface ScaleContext {
  root: string;
  seeded: Seeded;
  /** the data directory servers run on, restored from the seeded copy before each start */
  work: string;
  /** h2load's files */
  h2work: string;
  /** a latchkey started on a fresh copy of the seeded store, stopped after `fn` */
  withLatchkey<T>(fn: (server: Server) => Promise<T>, setup?: Pick<StartOptions, "workers" | "cores">): Promise<T>;
  target(server: Server, protocol: Protocol, call: Call): Target;
}

export function scaleContext(root: string, seeded: Seeded): ScaleContext {
  const work = path.join(root, "latchkey");
  const h2work = path.join(root, "h2load");
  return {
    root,
    seeded,
    work,
    h2work,
    async withLatchkey(fn, setup) {
      restore(seeded.snapshot, work);
      const server = await startLatchkey({ dataDir: work, port: await freePort(), ...setup });
      try {
        return await fn(server);
      } finally {
        await server.stop();
      }
    },
    target: (server, protocol, call) => latchkeyTarget(server, work, protocol, call, seeded.ids, seeded.idsFile, h2work),
  };
}

/** Set-ups compared in one block: the order flips every round, so drift falls on each alike. */
export function roundOrder<T>(setups: readonly T[], round: number): T[] {
  return round % 2 === 1 ? [...setups] : [...setups].reverse();
}
