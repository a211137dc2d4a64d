/**
 * The PostgreSQL block: PasswordReset over Connect JSON with `--database-url`,
 * one latchkey instance against two sharing the database (both on the
 * server's core), the database server on its own core beside the load
 * generators. The load is always two wrk processes of half the connections
 * each, both at the one instance or one at each of the two, so the load
 * generator is the same in both set-ups. Each run starts from a copy of the
 * seeded store (`latchkey copy` into a template database); both set-ups run
 * in every round, their order flipped each round.
 */
import fs from "node:fs";
import path from "node:path";
import { ADMIN_TOKEN_FILE, ENCRYPTION_KEY_FILE } from "../../src/eventstore/data_dir.js";
import { config } from "../lib/config.js";
import { REPO, startLatchkey, type Server } from "../lib/latchkey.js";
import { warmAndMeasure, type Measurement, type Target } from "../lib/measure.js";
import { startBenchPostgres, type BenchPostgres } from "../lib/postgres.js";
import { preflight } from "../lib/targets.js";
import { freePort, log, run, type TreeTimes } from "../lib/util.js";
import { wrkTogether } from "../lib/wrk.js";
import { roundOrder, type ScaleContext } from "./context.js";

export interface PostgresResult {
  available: boolean;
  reason?: string;
  version?: string;
  /** the database server's taskset core */
  core?: string;
  runs: Measurement[];
}

const TEMPLATE = "latchkey_seeded";

/** Several servers measured as one: CPU summed over every process of each. */
function together(servers: Server[]): Server {
  return {
    ...servers[0]!,
    cores: [...new Set(servers.flatMap((s) => s.cores))],
    cpu(): TreeTimes {
      const parts = servers.map((s) => s.cpu());
      return {
        total: parts.reduce((n, p) => n + p.total, 0),
        system: parts.reduce((n, p) => n + p.system, 0),
        byPid: parts.flatMap((p) => p.byPid),
      };
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

export async function postgresBlock(ctx: ScaleContext): Promise<PostgresResult> {
  const { seeded: s } = ctx;
  let pg: BenchPostgres;
  try {
    pg = await startBenchPostgres(config.postgresCore);
  } catch (err) {
    const reason = `PostgreSQL could not be started: ${(err as Error).message.split("\n")[0]}`;
    log(reason);
    return { available: false, reason, runs: [] };
  }
  const runs: Measurement[] = [];
  try {
    log(`PostgreSQL: ${pg.version} on port ${pg.port}, core ${config.postgresCore}; copying the seeded store`);
    await pg.createDatabase(TEMPLATE);
    const copied = await run(process.execPath, [path.join(REPO, "bin/latchkey.js"), "copy", "--from", s.snapshot, "--to", pg.url(TEMPLATE)], { cwd: REPO });
    if (copied.code !== 0) throw new Error(`latchkey copy failed: ${copied.stderr || copied.stdout}`);
    const keyFile = path.join(s.snapshot, ENCRYPTION_KEY_FILE);
    const token = fs.readFileSync(path.join(s.snapshot, ADMIN_TOKEN_FILE), "utf8").trim();
    for (let round = 1; round <= config.rounds; round++) {
      log(`${s.users} users, PostgreSQL, round ${round}/${config.rounds}`);
      for (const instances of roundOrder(config.postgresInstances, round)) {
        const database = `run_${round}_${instances}`;
        await pg.createDatabase(database, TEMPLATE);
        const servers: Server[] = [];
        try {
          // one after the other: the first applies whatever migrations the copy lacks
          for (let i = 0; i < instances; i++) {
            const dataDir = path.join(ctx.root, `pg-instance-${i}`);
            fs.rmSync(dataDir, { recursive: true, force: true });
            fs.mkdirSync(dataDir, { recursive: true });
            servers.push(await startLatchkey({ dataDir, port: await freePort(), databaseUrl: pg.url(database), encryptionKeyFile: keyFile, token }));
          }
          if (round === 1) for (const server of servers) await preflight(server, s.ids, ["reset"]);
          runs.push(await warmAndMeasure(postgresTarget(together(servers), servers, pg, database, s.ids.length, s.idsFile, instances), round));
        } finally {
          await Promise.all(servers.map((server) => server.stop()));
          await pg.dropDatabase(database);
        }
      }
    }
    return { available: true, version: pg.version, core: config.postgresCore, runs };
  } finally {
    await pg.stop();
  }
}

function postgresTarget(all: Server, servers: Server[], pg: BenchPostgres, database: string, users: number, idsFile: string, instances: number): Target {
  // two wrk processes whatever the number of instances: each instance takes an equal share
  const share = config.concurrency / 2;
  return {
    label: "connect reset",
    server: all,
    rows: () => pg.scalar(database, "SELECT count(*) AS v FROM events"),
    rowsPerCall: 1,
    users,
    concurrency: config.concurrency,
    countsEvents: true,
    tags: { instances },
    databaseCpu: () => pg.cpu(),
    load: (durationMs, rate) =>
      wrkTogether(
        [0, 1].map((i) => ({
          url: servers[i % servers.length]!.url,
          shape: "connect-reset" as const,
          idsFile,
          token: servers[0]!.token,
          connections: rate ? config.rateConnections / 2 : share,
          durationMs,
          ...(rate && { rate: rate / 2 }),
        })),
      ),
  };
}
