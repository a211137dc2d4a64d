/**
 * A throwaway PostgreSQL server for tests and local development: a fresh
 * cluster in a temp directory, trust authentication on 127.0.0.1, a free port.
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
 *
 * `npx tsx test/support/postgres.ts` keeps one running and prints its URL.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

export interface PostgresServer {
  /** superuser URL of the `postgres` database */
  readonly url: string;
  readonly port: number;
  /** Stops the server and leaves its data, for `start()`; open connections are cut. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** The directory holding initdb and pg_ctl: PATH first, then Debian's layout. */
export function findPostgresBin(): string | undefined {
  const fromPath = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  const debian = "/usr/lib/postgresql";
  const versions = fs.existsSync(debian)
    ? fs.readdirSync(debian).sort((a, b) => Number(b) - Number(a)).map((v) => path.join(debian, v, "bin"))
    : [];
  for (const dir of [...fromPath, ...versions]) {
    const initdb = path.join(dir, "initdb");
    if (fs.existsSync(initdb) && fs.existsSync(path.join(dir, "pg_ctl"))) {
      return path.dirname(fs.realpathSync(initdb));
    }
  }
  return undefined;
}

/** Starts a server on a free port; another one, up to 3 tries, when the port was taken between finding it free and the server binding it. */
export async function onFreePort(start: (port: number) => Promise<unknown>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await start(port);
      return port;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/**
 * A fresh temporary directory for a PostgreSQL server. PostgreSQL refuses to
 * run as root, so as root the server runs as the postgres user, which must own it.
 */
export function postgresDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (process.getuid?.() === 0) {
    const [uid, gid] = ["-u", "-g"].map((flag) => Number(execFileSync("id", [flag, "postgres"]).toString()));
    fs.chownSync(dir, uid!, gid!);
  }
  return dir;
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error("PostgreSQL binaries (initdb, pg_ctl) not found: install Debian's postgresql package");
  }
  const asRoot = process.getuid?.() === 0;
  const dir = postgresDir("latchkey-pg-");
  const data = path.join(dir, "data");
  const log = path.join(dir, "server.log");
  const command = (tool: string, args: string[]): [string, string[]] => {
    const program = path.join(bin, tool);
    return asRoot ? ["runuser", ["-u", "postgres", "--", program, ...args]] : [program, args];
  };
  const exec = (tool: string, args: string[]) =>
    run(...command(tool, args), { cwd: dir }).catch((err: Error) => {
      const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").slice(-2000) : "";
      throw new Error(`${tool} failed: ${err.message}\n${tail}`);
    });

  let port = 0;
  let running = false;
  const pgCtlStart = () =>
    exec("pg_ctl", [
      "-D", data, "-l", log, "-w", "-t", "30",
      "-o", `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=200`,
      "start",
    ]);
  const pgCtlStop = (mode: "fast" | "immediate") => exec("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);

  try {
    await exec("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]);
    await onFreePort((free) => {
      port = free;
      return pgCtlStart();
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  running = true;

  // Tests that end without teardown must not leave a server behind.
  const onExit = () => {
    if (!running) return;
    try {
      execFileSync(...command("pg_ctl", ["-D", data, "-m", "immediate", "stop"]), { stdio: "ignore" });
    } catch {
      // already gone
    }
  };
  process.once("exit", onExit);

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async halt() {
      if (!running) return;
      await pgCtlStop("fast");
      running = false;
    },
    async start() {
      if (running) return;
      await pgCtlStart();
      running = true;
    },
    async stop() {
      process.removeListener("exit", onExit);
      if (running) await pgCtlStop("immediate");
      running = false;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates an empty database on the server and returns its URL. */
export async function createDatabase(serverUrl: string, prefix = "test"): Promise<string> {
  const name = `${prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops a database made by `createDatabase`, cutting its connections. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const server = await startPostgres();
  console.log(server.url);
  const alive = setInterval(() => {}, 1 << 30);
  const shutdown = () => void server.stop().finally(() => clearInterval(alive));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}
