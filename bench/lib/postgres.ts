/**
 * The PostgreSQL server of the PostgreSQL block: a fresh cluster in a temp
 * directory, on a free port, pinned to a core, with PostgreSQL's durable
 * defaults (fsync and synchronous_commit on, as latchkey's SQLite commits with
 * synchronous=FULL). As root it runs as the `postgres` user. Its CPU time is
 * read from /proc for the postmaster and every backend.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { findPostgresBin, onFreePort, postgresDir } from "../../test/support/postgres.js";
import { pinned } from "./latchkey.js";
import { clockTicks, cpuTimes, processTree, run } from "./util.js";

export interface BenchPostgres {
  url: (database: string) => string;
  port: number;
  version: string;
  /** CPU seconds of the postmaster, its live children and the children it has reaped */
  cpu(): number;
  createDatabase(name: string, template?: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  /** a count query against one database */
  scalar(database: string, sql: string): Promise<number>;
  stop(): Promise<void>;
}

/** utime + stime of the children a process has waited for (fields 16 and 17 of /proc/<pid>/stat). */
function reapedChildrenSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / clockTicks();
}

export async function startBenchPostgres(core: string): Promise<BenchPostgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error("PostgreSQL binaries (initdb, pg_ctl) not found: install Debian's postgresql package");
  const asRoot = process.getuid?.() === 0;
  const dir = postgresDir("latchkey-bench-pg-");
  const data = path.join(dir, "data");
  const logFile = path.join(dir, "server.log");
  const tool = async (name: string, args: string[]) => {
    const program = path.join(bin, name);
    const cmd = asRoot ? ["runuser", "-u", "postgres", "--", program, ...args] : [program, ...args];
    // taskset and nice apply before runuser drops to the postgres user; the server inherits both
    const r = await run("taskset", pinned(core, cmd[0]!, cmd.slice(1)), { cwd: dir });
    if (r.code !== 0) {
      const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-2000) : "";
      throw new Error(`${name} failed (exit ${r.code}): ${r.stderr.trim()}\n${tail}`);
    }
    return r.stdout;
  };
  let port = 0;
  try {
    await tool("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-instructions"]);
    port = await onFreePort((free) =>
      tool("pg_ctl", ["-D", data, "-l", logFile, "-w", "-t", "30", "-o", `-p ${free} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=100`, "start"]),
    );
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const postmaster = Number(fs.readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  // "postgres (PostgreSQL) 15.18 (Debian …)" → "PostgreSQL 15.18"
  const version = (await tool("postgres", ["--version"])).trim().replace(/^postgres \(PostgreSQL\) (\S+).*$/, "PostgreSQL $1");
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>, database = "postgres"): Promise<T> => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  // one connection per database for the harness's own counting: no backend starts or ends while CPU time is read
  const readers = new Map<string, pg.Client>();
  const onExit = () => {
    try {
      execFileSync(...stopCommand("immediate"), { stdio: "ignore" });
    } catch {
      // already gone
    }
  };
  const stopCommand = (mode: string): [string, string[]] => {
    const args = [path.join(bin, "pg_ctl"), "-D", data, "-m", mode, "-w", "stop"];
    return asRoot ? ["runuser", ["-u", "postgres", "--", ...args]] : [args[0]!, args.slice(1)];
  };
  process.once("exit", onExit);
  return {
    url,
    port,
    version,
    cpu() {
      let total = reapedChildrenSeconds(postmaster);
      for (const pid of processTree(postmaster)) {
        try {
          const t = cpuTimes(pid);
          total += t.user + t.system;
        } catch {
          // a backend that ended between the listing and the reading: its time is in the postmaster's reaped total
        }
      }
      return total;
    },
    createDatabase: (name, template) =>
      admin(async (c) => void (await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : ""}`))),
    async dropDatabase(name) {
      await readers.get(name)?.end();
      readers.delete(name);
      await admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)));
    },
    async scalar(database, sql) {
      let client = readers.get(database);
      if (!client) {
        client = new pg.Client({ connectionString: url(database) });
        await client.connect();
        readers.set(database, client);
      }
      return Number((await client.query<{ v: string }>(sql)).rows[0]?.v ?? 0);
    },
    async stop() {
      process.removeListener("exit", onExit);
      await Promise.all([...readers.values()].map((c) => c.end()));
      const [cmd, args] = stopCommand("fast");
      await run(cmd, args);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
