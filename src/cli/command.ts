/** What every `latchkey` subcommand is made of, and the pieces several share. */
import { createOperatorCommands } from "../command/instance.js";
import { CONFIG_FIELDS, loadConfig } from "../config.js";
import { Aggregates } from "../command/aggregates.js";
import type { BackendOptions } from "../eventstore/open.js";
import { openStore } from "../server/app.js";

/** A wrong command line: reported in one line, exit code 2. */
export class UsageError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "CLI-Usg3a";
}

export interface Flag {
  type: "string" | "boolean";
  help: string;
  /** the value's name in the usage line (a string flag) */
  value?: string;
  /** shown without brackets in the usage line; the command checks it (see required()) */
  required?: boolean;
  /** may be given several times */
  multiple?: boolean;
}

/** A flag with a value: `--org ID`. */
export const text = (value: string, help: string, options: { required?: boolean; multiple?: boolean } = {}): Flag => ({ type: "string", value, help, ...options });
/** A flag without one: `--json`. */
export const toggle = (help: string): Flag => ({ type: "boolean", help });

export type Values = Record<string, string | undefined>;

export interface Command {
  /** the words that name it: "start", "org add" */
  name: string;
  usage: string;
  summary: string;
  flags: Record<string, Flag>;
  /** resolves to the exit code */
  run(values: Values): Promise<number>;
}

/** A command whose usage line lists its flags (or says `usage` instead). */
export function command(name: string, summary: string, flags: Record<string, Flag>, run: Command["run"], usage?: string): Command {
  return { name, summary, flags, run, usage: usage ?? `latchkey ${name} ${Object.entries(flags).map(([flag, f]) => usageOf(flag, f)).join(" ")}` };
}

function usageOf(name: string, flag: Flag): string {
  const shown = flag.type === "boolean" ? `--${name}` : `--${name} ${flag.value ?? "VALUE"}`;
  if (flag.required) return shown;
  return flag.multiple ? `[${shown}]...` : `[${shown}]`;
}

/** Where the instance lives: the flags of every command that opens its database. */
export const STORE_FLAGS: Record<string, Flag> = {
  "data-dir": text("DIR", "data directory of the instance (env LATCHKEY_DATA_DIR, default ./data)"),
  "database-url": text("URL", "PostgreSQL database of the instance (env LATCHKEY_DATABASE_URL; default the SQLite file in the data directory)"),
};

/** Flags taken from start's configuration, each with its environment variable in its help. */
export function configFlags(names?: readonly string[]): Record<string, Flag> {
  const fields = names ? CONFIG_FIELDS.filter((f) => names.includes(f.flag)) : CONFIG_FIELDS;
  return Object.fromEntries(fields.map((f) => [f.flag, { type: "string", help: `${f.description} [env ${f.env}]` }]));
}

/** The database the flags and environment point to. */
export function backendOptions(values: Values): BackendOptions {
  const { dataDir, databaseUrl } = loadConfig(process.env, { "data-dir": values["data-dir"], "database-url": values["database-url"] });
  return { dataDir, databaseUrl };
}

export function required(values: Values, name: string): string {
  const value = values[name];
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

/** Every value of a flag declared `multiple` (parseArgs gives those as arrays). */
export function list(values: Values, name: string): string[] {
  const value: unknown = values[name];
  return Array.isArray(value) ? (value as string[]) : typeof value === "string" ? [value] : [];
}

/** A whole number given to a flag, or undefined without it. */
export function wholeNumber(values: Values, name: string): number | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

/** Runs work on the instance's aggregates (one set for this process) and prints only its result. */
export async function withStore(values: Values, work: (aggregates: Aggregates) => Promise<string>): Promise<number> {
  const store = await openStore(backendOptions(values));
  try {
    process.stdout.write((await work(new Aggregates(store))) + "\n");
    return 0;
  } finally {
    await store.close();
  }
}

/** Runs an operator command on the instance's store and prints only its result. */
export function withOperator(values: Values, work: (ops: ReturnType<typeof createOperatorCommands>) => Promise<string>): Promise<number> {
  return withStore(values, (aggregates) => work(createOperatorCommands(aggregates)));
}
