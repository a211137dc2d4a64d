/** The `latchkey` command: finds the subcommand, parses its flags, runs it and turns its failure into one line and an exit code. */
import { parseArgs } from "node:util";
import { ConfigError } from "../config.js";
import { describeCauses } from "../errors/cause.js";
import { LatchkeyError } from "../errors/errors.js";
import { DataDirError } from "../eventstore/data_dir.js";
import { scrubUrlPasswords } from "../logger.js";
import { NoInstanceError } from "../server/app.js";
import { EncryptionKeyError } from "../eventstore/encryption_keys.js";
import { PortError } from "../server/port.js";
import { UsageError, type Command } from "./command.js";
import { appAdd } from "./commands/app_add.js";
import { audit } from "./commands/audit.js";
import { connectionSet } from "./commands/connection_set.js";
import { copy } from "./commands/copy.js";
import { init } from "./commands/init.js";
import { machineUserAdd } from "./commands/machine_user_add.js";
import { migrate } from "./commands/migrate.js";
import { orgAdd } from "./commands/org_add.js";
import { outbox } from "./commands/outbox.js";
import { policySet } from "./commands/policy_set.js";
import { start } from "./commands/start.js";
import { tokenAdd } from "./commands/token_add.js";
import { userReactivate, userUnlock } from "./commands/user_state.js";
import { CopyError } from "./copy_to_postgres.js";

/** In the order `latchkey --help` lists them. */
const COMMANDS: readonly Command[] = [migrate, copy, start, init, orgAdd, machineUserAdd, tokenAdd, userUnlock, userReactivate, appAdd, connectionSet, audit, outbox, policySet];

function commandHelp(cmd: Command): string {
  const width = Math.max(...Object.keys(cmd.flags).map((k) => k.length)) + 4;
  const lines = Object.entries(cmd.flags).map(([flag, { help }]) => `  --${flag.padEnd(width)}${help}`);
  return `${cmd.summary}\n\nUsage: ${cmd.usage}\n\nFlags:\n${lines.join("\n")}\n  --${"help".padEnd(width)}show this help\n`;
}

function mainHelp(): string {
  const lines = COMMANDS.map((cmd) => `  ${cmd.name.padEnd(20)}${cmd.summary}`);
  return `latchkey: password resets with ZITADEL's user API v2\n\nUsage: latchkey <command> [flags]\n\nCommands:\n${lines.join("\n")}\n\nRun 'latchkey <command> --help' for its flags.\n`;
}

/** A command is named by its first one or two words; the two-word name wins. */
function findCommand(args: string[]): { cmd: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = args.slice(0, words).join(" ");
    const cmd = COMMANDS.find((c) => c.name === name);
    if (cmd) return { cmd, rest: args.slice(words) };
  }
  return undefined;
}

export async function main(args: string[]): Promise<number> {
  if (args.length === 0 || args[0] === "--help" || args[0] === "-h" || args[0] === "help") {
    process.stdout.write(mainHelp());
    return args.length === 0 ? 2 : 0;
  }
  const found = findCommand(args);
  if (!found) {
    process.stderr.write(`latchkey: unknown command "${args.slice(0, 2).join(" ")}"; see 'latchkey --help'\n`);
    return 2;
  }
  const { cmd, rest } = found;
  try {
    const options = Object.fromEntries(Object.entries(cmd.flags).map(([name, f]) => [name, { type: f.type, ...(f.multiple && { multiple: true }) }]));
    const { values } = parseArgs({ args: rest, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false });
    if (values.help) {
      process.stdout.write(commandHelp(cmd));
      return 0;
    }
    const { help: _help, ...flags } = values;
    return await cmd.run(flags as Record<string, string | undefined>);
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  const usage = err instanceof UsageError || err instanceof ConfigError || (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"));
  const known =
    usage ||
    err instanceof DataDirError ||
    err instanceof NoInstanceError ||
    err instanceof PortError ||
    err instanceof EncryptionKeyError ||
    err instanceof CopyError ||
    err instanceof LatchkeyError ||
    (err instanceof Error && /already in use/.test(err.message));
  let message = err instanceof Error ? err.message : String(err);
  // an API error names no detail ("The database is unavailable"); what lies under it does
  const cause = err instanceof LatchkeyError || !known ? describeCauses(err) : undefined;
  if (cause) message += `: ${cause}`;
  process.stderr.write(scrubUrlPasswords(`latchkey: ${known ? message : `unexpected error: ${message}`}`) + "\n");
  return usage ? 2 : 1;
}
