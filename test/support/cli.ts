/** Runs the real `latchkey` binary (built into dist/ by `npm run build`). */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { testDatabaseOf } from "./backend.js";

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/latchkey.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; one given the `--data-dir` of a test server on PostgreSQL uses that server's database. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const dataDir = args[args.indexOf("--data-dir") + 1];
  const databaseUrl = args.includes("--data-dir") && dataDir ? testDatabaseOf(dataDir) : undefined;
  const database = databaseUrl ? { LATCHKEY_DATABASE_URL: databaseUrl } : {};
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...database, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface CliServer {
  url: string;
  process: ChildProcess;
  /** every whole line it wrote to stdout so far */
  stdout: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Calls `onLine` with each whole line the stream carries, the last one too. */
function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = "";
  stream.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString("utf8")).split("\n");
    partial = parts.pop()!;
    for (const line of parts) if (line !== "") onLine(line);
  });
  stream.on("end", () => {
    if (partial !== "") onLine(partial);
  });
}

/**
 * Starts `latchkey start` and resolves once it prints where it listens; rejects
 * with its stderr if it exits first. `onLine` hears every line of stdout and
 * stderr, also of a process that never listens.
 */
export function startCliServer(args: string[], env: NodeJS.ProcessEnv = {}, onLine: (line: string) => void = () => {}): Promise<CliServer> {
  const child = spawn(process.execPath, [BIN, "start", "--host", "127.0.0.1", "--port", "0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  eachLine(child.stdout!, (line) => {
    stdout.push(line);
    onLine(line);
  });
  eachLine(child.stderr!, onLine);
  // after its output has been read to the end
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (\S+);/.exec(stderr);
      if (match) {
        resolve({
          url: match[1]!,
          process: child,
          stdout,
          stop: (signal = "SIGTERM") => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`latchkey exited with ${code}: ${stderr}`)));
  });
}
