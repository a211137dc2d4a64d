/** The `latchkey` command: the server and the operator commands. */
import fs from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { auditEntries, formatJsonLines, formatLines } from "../audit/history.js";
import { addApplication } from "../command/application/commands.js";
import { createOperatorCommands } from "../command/instance.js";
import { setConnectionName } from "../command/org/connection.js";
import { DEFAULT_LOCKOUT_POLICY } from "../command/lockout_policy.js";
import { setPasswordPolicies } from "../command/org/password_policy.js";
import { DEFAULT_PASSWORD_POLICY, type PasswordPolicy } from "../command/password_policy.js";
import { MAX_HISTORY_COUNT, parseWords, type PasswordRulesPolicy } from "../command/password_rules/policy.js";
import { USER_AGGREGATE, type Role } from "../command/user/events.js";
import { CONFIG_FIELDS, ConfigError, loadConfig } from "../config.js";
import { describeCauses } from "../errors/cause.js";
import { LatchkeyError } from "../errors/errors.js";
import { createLogger, scrubUrlPasswords } from "../logger.js";
import type { EventStore } from "../eventstore/eventstore.js";
import { CopyError, copySqliteToPostgres } from "./copy_to_postgres.js";
import { formatOutboxMessage, outboxFiles, outboxMessageJson, readOutboxMessage } from "../notification/outbox_messages.js";
import { NoInstanceError, openApp, openStore } from "../server/app.js";
import { describeBackend, openBackend, type BackendOptions } from "../eventstore/open.js";
import { DATABASE_FILE, DataDirError, dataDirExists } from "../eventstore/data_dir.js";
import { EncryptionKeyError } from "../server/encryption_keys.js";
import { isWorker, runWorker, startCluster } from "../server/cluster.js";
import { checkPortFree, PortError } from "../server/port.js";
import { startServer } from "../server/server.js";

class UsageError extends Error {}

interface Command {
  usage: string;
  summary: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  help: Record<string, string>;
  run(values: Record<string, string | undefined>): Promise<number>;
}

const DATA_DIR_HELP = "data directory of the instance (env LATCHKEY_DATA_DIR, default ./data)";
const DATABASE_URL_HELP = "PostgreSQL database of the instance (env LATCHKEY_DATABASE_URL; default the SQLite file in the data directory)";

/** The database the flags and environment point to. */
function backendOptions(values: Record<string, string | undefined>): BackendOptions {
  const { dataDir, databaseUrl } = loadConfig(process.env, { "data-dir": values["data-dir"], "database-url": values["database-url"] });
  return { dataDir, databaseUrl };
}

function required(values: Record<string, string | undefined>, name: string): string {
  const value = values[name];
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

/** Every value of a flag declared `multiple` (parseArgs gives those as arrays). */
function list(values: Record<string, string | undefined>, name: string): string[] {
  const value: unknown = values[name];
  return Array.isArray(value) ? (value as string[]) : typeof value === "string" ? [value] : [];
}

/** Runs work on the data directory's store and prints only its result. */
async function withStore(values: Record<string, string | undefined>, work: (store: EventStore) => Promise<string>): Promise<number> {
  const store = await openStore(backendOptions(values));
  try {
    process.stdout.write((await work(store)) + "\n");
    return 0;
  } finally {
    await store.close();
  }
}

/** Runs an operator command on the data directory's store and prints only its result. */
async function withOperator(
  values: Record<string, string | undefined>,
  work: (ops: ReturnType<typeof createOperatorCommands>) => Promise<string>,
): Promise<number> {
  return withStore(values, (store) => work(createOperatorCommands(store)));
}

const ROLES: readonly Role[] = ["IAM_OWNER", "ORG_OWNER"];

/** What `init` needs of start's configuration: where the instance lives and its key. */
const INIT_FLAGS = CONFIG_FIELDS.filter((f) => ["data-dir", "database-url", "encryption-key-file", "encryption-key"].includes(f.flag));

const COMMANDS: Record<string, Command> = {
  migrate: {
    usage: "latchkey migrate [--data-dir DIR] [--database-url URL]",
    summary: "apply the database migrations and exit",
    options: { "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: { "data-dir": DATA_DIR_HELP, "database-url": DATABASE_URL_HELP },
    async run(values) {
      const options = backendOptions(values);
      const { store } = await openBackend(options);
      await store.close();
      process.stdout.write(`migrated ${describeBackend(options)}\n`);
      return 0;
    },
  },
  copy: {
    usage: "latchkey copy --from DIR|FILE --to postgres://…",
    summary: "copy a stopped SQLite instance into an empty PostgreSQL database",
    options: { from: { type: "string" }, to: { type: "string" } },
    help: {
      from: `data directory (its ${DATABASE_FILE}) or SQLite file of the instance to copy; stop that instance first`,
      to: "PostgreSQL database to copy into; must hold no events yet",
    },
    async run(values) {
      const from = required(values, "from");
      const file = fs.existsSync(from) && fs.statSync(from).isDirectory() ? path.join(from, DATABASE_FILE) : from;
      if (!fs.existsSync(file)) throw new UsageError(`--from: ${file} does not exist`);
      const to = loadConfig({}, { "database-url": required(values, "to") }).databaseUrl!;
      const copied = await copySqliteToPostgres(file, to);
      process.stdout.write(
        `copied ${copied.events} events (head ${copied.head}), ${copied.uniques} unique values, ${copied.lookups} lookups and ` +
          `${copied.jobs} pending messages from ${file} to ${describeBackend({ dataDir: "", databaseUrl: to })}; rate limit counters start empty\n`,
      );
      return 0;
    },
  },
  start: {
    usage: "latchkey start [flags]",
    summary: "serve gRPC, gRPC-web, Connect and REST on one port",
    options: Object.fromEntries(CONFIG_FIELDS.map((f) => [f.flag, { type: "string" }])),
    help: Object.fromEntries(CONFIG_FIELDS.map((f) => [f.flag, `${f.description} [env ${f.env}]`])),
    async run(values) {
      const config = loadConfig(process.env, values);
      const logger = createLogger({ level: config.logLevel });
      if (config.workers > 1 && isWorker()) {
        await runWorker(config, logger);
        return new Promise<number>(() => {});
      }
      // a busy port fails here, before the database is opened and the notifier started
      await checkPortFree(config.port, config.host);
      if (config.metricsPort !== undefined) await checkPortFree(config.metricsPort, config.metricsHost, "metrics port");
      const server = config.workers > 1 ? await startCluster(config, logger) : await startServer(config, logger);
      const adminTokenFile = "app" in server ? server.app.adminTokenFile : server.adminTokenFile;
      // on a shared database only the instance that created it holds the admin token
      const token = fs.existsSync(adminTokenFile) ? `admin token in ${adminTokenFile}` : "admin token with the instance that created the database";
      const workers = config.workers > 1 ? `; ${config.workers} workers` : "";
      process.stderr.write(`latchkey listening on ${server.url}; ${token}${workers}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "shutting down");
          server.close().then(resolve, (err: unknown) => {
            logger.error({ err }, "shutdown failed");
            resolve();
          });
        };
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
      return 0;
    },
  },
  init: {
    usage: "latchkey init [--data-dir DIR] [--database-url URL] [--encryption-key-file FILE]",
    summary: "create the instance (database, default organization, admin token) without serving",
    options: Object.fromEntries(INIT_FLAGS.map((f) => [f.flag, { type: "string" }])),
    help: Object.fromEntries(INIT_FLAGS.map((f) => [f.flag, `${f.description} [env ${f.env}]`])),
    async run(values) {
      const config = loadConfig(process.env, values);
      const options = { dataDir: config.dataDir, databaseUrl: config.databaseUrl };
      try {
        await (await openStore(options)).close();
        process.stdout.write(`latchkey instance already in ${config.databaseUrl ? describeBackend(options) : config.dataDir}\n`);
        return 0;
      } catch (err) {
        if (!(err instanceof NoInstanceError)) throw err;
      }
      // what start does first, then stop: migrations, the instance, its admin token, the key check
      const app = await openApp(config, createLogger({ level: "warn", destination: process.stderr }), { runNotifier: false });
      await app.close();
      process.stdout.write(`created a latchkey instance in ${config.databaseUrl ? describeBackend(options) : config.dataDir}; admin token in ${app.adminTokenFile}\n`);
      return 0;
    },
  },
  "org add": {
    usage: "latchkey org add --name NAME [--data-dir DIR] [--database-url URL]",
    summary: "create an organization; prints its id",
    options: { name: { type: "string" }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: { name: "name of the organization", "data-dir": DATA_DIR_HELP, "database-url": DATABASE_URL_HELP },
    run: (values) => withOperator(values, (ops) => ops.addOrg(required(values, "name"))),
  },
  "machine-user add": {
    usage: "latchkey machine-user add --org ID --username NAME --role IAM_OWNER|ORG_OWNER [--data-dir DIR] [--database-url URL]",
    summary: "create a machine user with a role; prints its id",
    options: { org: { type: "string" }, username: { type: "string" }, role: { type: "string" }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: {
      org: "organization the user belongs to",
      username: "login name of the machine user",
      role: "IAM_OWNER (every organization) or ORG_OWNER (its own organization)",
      "data-dir": DATA_DIR_HELP,
      "database-url": DATABASE_URL_HELP,
    },
    run: (values) => {
      const role = required(values, "role");
      if (!ROLES.includes(role as Role)) throw new UsageError(`--role must be IAM_OWNER or ORG_OWNER, got "${role}"`);
      return withOperator(values, (ops) => ops.addMachineUser(required(values, "org"), required(values, "username"), role as Role));
    },
  },
  "token add": {
    usage: "latchkey token add --user ID [--data-dir DIR] [--database-url URL]",
    summary: "create a personal access token for a machine user; prints the token",
    options: { user: { type: "string" }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: { user: "id of the machine user", "data-dir": DATA_DIR_HELP, "database-url": DATABASE_URL_HELP },
    run: (values) => withOperator(values, (ops) => ops.addToken(required(values, "user"))),
  },
  "user unlock": {
    usage: "latchkey user unlock --user ID [--data-dir DIR] [--database-url URL]",
    summary: "unlock a locked user, an administrator's machine user too; prints its id and state",
    options: { user: { type: "string" }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: { user: "id of the user (human or machine)", "data-dir": DATA_DIR_HELP, "database-url": DATABASE_URL_HELP },
    run: (values) => withOperator(values, async (ops) => JSON.stringify(await ops.unlockUser(required(values, "user")))),
  },
  "user reactivate": {
    usage: "latchkey user reactivate --user ID [--data-dir DIR] [--database-url URL]",
    summary: "reactivate a deactivated user, an administrator's machine user too; prints its id and state",
    options: { user: { type: "string" }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: { user: "id of the user (human or machine)", "data-dir": DATA_DIR_HELP, "database-url": DATABASE_URL_HELP },
    run: (values) => withOperator(values, async (ops) => JSON.stringify(await ops.reactivateUser(required(values, "user")))),
  },
  "app add": {
    usage: "latchkey app add --name NAME [--origin URL]... [--data-dir DIR] [--database-url URL]",
    summary: "register an application for Auth0-compatible calls; prints its client id",
    options: { name: { type: "string" }, origin: { type: "string", multiple: true }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: {
      name: "name of the application",
      origin: "browser origin allowed to call on its behalf, e.g. https://app.example.com (repeatable)",
      "data-dir": DATA_DIR_HELP,
      "database-url": DATABASE_URL_HELP,
    },
    run: (values) => withStore(values, (store) => addApplication(store, { name: required(values, "name"), origins: list(values, "origin") })),
  },
  "connection set": {
    usage: "latchkey connection set --org ID --name NAME [--data-dir DIR] [--database-url URL]",
    summary: "name an organization's user store for Auth0-compatible calls; prints the name",
    options: { org: { type: "string" }, name: { type: "string" }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: {
      org: "organization whose users the connection holds",
      name: "connection name, e.g. acme-users (the default organization answers to Username-Password-Authentication until named)",
      "data-dir": DATA_DIR_HELP,
      "database-url": DATABASE_URL_HELP,
    },
    run: (values) =>
      withStore(values, async (store) => {
        const name = required(values, "name");
        await setConnectionName(store, required(values, "org"), name);
        return name;
      }),
  },
  audit: {
    usage: "latchkey audit --user ID [--json] [--data-dir DIR] [--database-url URL]",
    summary: "print a user's history: what happened, who asked and from where",
    options: { user: { type: "string" }, json: { type: "boolean" }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
    help: {
      user: "id of the user",
      json: "one JSON object per event instead of one line",
      "data-dir": DATA_DIR_HELP,
      "database-url": DATABASE_URL_HELP,
    },
    run: async (values) => {
      const userId = required(values, "user");
      const { maxCodeAttempts } = loadConfig(process.env, { "data-dir": values["data-dir"], "database-url": values["database-url"] });
      const store = await openStore(backendOptions(values));
      let events;
      try {
        events = await store.readAggregate({ type: USER_AGGREGATE, id: userId });
      } finally {
        await store.close();
      }
      if (events.length === 0) {
        process.stderr.write(`latchkey: no user with id ${JSON.stringify(userId)}\n`);
        return 1;
      }
      const entries = auditEntries(events, { maxCodeAttempts });
      const lines = values.json !== undefined ? formatJsonLines(entries) : formatLines(entries, userId);
      process.stdout.write(lines.join("\n") + "\n");
      return 0;
    },
  },
  outbox: {
    usage: "latchkey outbox [--last] [--json] [--data-dir DIR]",
    summary: "list the messages in the outbox, newest first, with their links decoded",
    options: { last: { type: "boolean" }, json: { type: "boolean" }, "data-dir": { type: "string" } },
    help: {
      last: "only the newest message",
      json: "one JSON object per message (time, medium, to, subject, links, file)",
      "data-dir": DATA_DIR_HELP,
    },
    run: async (values) => {
      const { dataDir } = loadConfig(process.env, { "data-dir": values["data-dir"] });
      if (!dataDirExists(dataDir)) throw new NoInstanceError({ dataDir });
      const files = outboxFiles(dataDir);
      if (files.length === 0) {
        process.stderr.write(`latchkey: no messages in ${path.join(dataDir, "outbox")}\n`);
        return values.last !== undefined ? 1 : 0;
      }
      for (const file of values.last !== undefined ? files.slice(0, 1) : files) {
        const message = await readOutboxMessage(file);
        process.stdout.write((values.json !== undefined ? outboxMessageJson(message) : formatOutboxMessage(message)) + "\n");
      }
      return 0;
    },
  },
  "policy set": {
    usage:
      "latchkey policy set --org ID [--min-length N] [--no-uppercase] [--no-lowercase] [--no-digit] [--no-symbol] [--max-password-attempts N] " +
      "[--password-history N] [--reject-common] [--password-words-file FILE] [--reject-breached] [--reject-personal-data] [--min-strength 0-4] " +
      "[--max-password-age DAYS] [--data-dir DIR] [--database-url URL]",
    summary: "set an organization's password and lockout policy; prints it",
    options: {
      org: { type: "string" },
      "min-length": { type: "string" },
      "no-uppercase": { type: "boolean" },
      "no-lowercase": { type: "boolean" },
      "no-digit": { type: "boolean" },
      "no-symbol": { type: "boolean" },
      "max-password-attempts": { type: "string" },
      "password-history": { type: "string" },
      "reject-common": { type: "boolean" },
      "password-words-file": { type: "string" },
      "reject-breached": { type: "boolean" },
      "reject-personal-data": { type: "boolean" },
      "min-strength": { type: "string" },
      "max-password-age": { type: "string" },
      "data-dir": { type: "string" },
      "database-url": { type: "string" },
    },
    help: {
      org: "organization whose users the policy applies to",
      "min-length": `fewest characters in a password (default ${DEFAULT_PASSWORD_POLICY.minLength})`,
      "no-uppercase": "do not require an uppercase letter",
      "no-lowercase": "do not require a lowercase letter",
      "no-digit": "do not require a digit",
      "no-symbol": "do not require a symbol",
      "max-password-attempts": `wrong passwords and codes after which a user is locked, 0 for never (default ${DEFAULT_LOCKOUT_POLICY.maxPasswordAttempts})`,
      "password-history": `refuse the user's last N passwords, up to ${MAX_HISTORY_COUNT}; each change then verifies up to N argon2id hashes (default 0, off)`,
      "reject-common": "refuse common passwords (a shipped list of about 49,000)",
      "password-words-file": "file of the organization's own forbidden words, one a line (e.g. its name): passwords containing one are refused",
      "reject-breached": "refuse passwords known from breaches: the shipped list, and the server's --breached-range-url if set",
      "reject-personal-data": "refuse passwords containing the username, email local part, first or last name (parts of 3 characters or more)",
      "min-strength": "lowest zxcvbn strength score accepted, 1 to 4 (default 0, off)",
      "max-password-age": "days after which a password must be changed: GetUserByID then says so (default 0, never)",
      "data-dir": DATA_DIR_HELP,
      "database-url": DATABASE_URL_HELP,
    },
    run: async (values) => {
      const orgId = required(values, "org");
      const minLength = values["min-length"];
      if (minLength !== undefined && !/^\d+$/.test(minLength)) throw new UsageError(`--min-length must be a whole number, got "${minLength}"`);
      const maxAttempts = values["max-password-attempts"];
      if (maxAttempts !== undefined && !/^\d+$/.test(maxAttempts)) throw new UsageError(`--max-password-attempts must be a whole number, got "${maxAttempts}"`);
      // every flag not given keeps the instance default, so the policy is always complete
      const complexity: PasswordPolicy = {
        minLength: minLength === undefined ? DEFAULT_PASSWORD_POLICY.minLength : Number(minLength),
        hasUppercase: values["no-uppercase"] === undefined,
        hasLowercase: values["no-lowercase"] === undefined,
        hasNumber: values["no-digit"] === undefined,
        hasSymbol: values["no-symbol"] === undefined,
      };
      const lockout = { maxPasswordAttempts: maxAttempts === undefined ? DEFAULT_LOCKOUT_POLICY.maxPasswordAttempts : Number(maxAttempts) };
      const rules = rulesFromFlags(values);
      const store = await openStore(backendOptions(values));
      try {
        await setPasswordPolicies(store, orgId, { complexity, lockout, rules });
      } finally {
        await store.close();
      }
      const { words, ...shown } = rules;
      const policy = { ...complexity, ...lockout, ...shown, wordCount: words.length };
      process.stdout.write(JSON.stringify(policy) + "\n");
      return 0;
    },
  },
};

/** The password rules of `policy set`: every flag not given is off. */
function rulesFromFlags(values: Record<string, string | undefined>): PasswordRulesPolicy {
  const count = (name: string): number => {
    const value = values[name];
    if (value === undefined) return 0;
    if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
    return Number(value);
  };
  const wordsFile = values["password-words-file"];
  let words: string[] = [];
  if (wordsFile !== undefined) {
    try {
      words = parseWords(fs.readFileSync(wordsFile, "utf8"));
    } catch (err) {
      throw new UsageError(`--password-words-file: cannot read ${wordsFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return {
    historyCount: count("password-history"),
    rejectCommon: values["reject-common"] !== undefined,
    rejectBreached: values["reject-breached"] !== undefined,
    rejectPersonalData: values["reject-personal-data"] !== undefined,
    minStrength: count("min-strength"),
    maxAgeDays: count("max-password-age"),
    words,
  };
}

function commandHelp(cmd: Command): string {
  const width = Math.max(...Object.keys(cmd.help).map((k) => k.length)) + 4;
  const lines = Object.entries(cmd.help).map(([flag, text]) => `  --${flag.padEnd(width)}${text}`);
  return `${cmd.summary}\n\nUsage: ${cmd.usage}\n\nFlags:\n${lines.join("\n")}\n  --${"help".padEnd(width)}show this help\n`;
}

function mainHelp(): string {
  const lines = Object.entries(COMMANDS).map(([name, cmd]) => `  ${name.padEnd(20)}${cmd.summary}`);
  return `latchkey: password resets with ZITADEL's user API v2\n\nUsage: latchkey <command> [flags]\n\nCommands:\n${lines.join("\n")}\n\nRun 'latchkey <command> --help' for its flags.\n`;
}

function findCommand(args: string[]): { name: string; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = args.slice(0, words).join(" ");
    if (COMMANDS[name]) return { name, rest: args.slice(words) };
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
  const cmd = COMMANDS[found.name]!;
  try {
    const { values } = parseArgs({
      args: found.rest,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
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
  const known = usage || err instanceof DataDirError || err instanceof NoInstanceError || err instanceof PortError || err instanceof EncryptionKeyError || err instanceof CopyError || err instanceof LatchkeyError || (err instanceof Error && /already in use/.test(err.message));
  let message = err instanceof Error ? err.message : String(err);
  // an API error names no detail ("The database is unavailable"); what lies under it does
  const cause = err instanceof LatchkeyError || !known ? describeCauses(err) : undefined;
  if (cause) message += `: ${cause}`;
  process.stderr.write(scrubUrlPasswords(`latchkey: ${known ? message : `unexpected error: ${message}`}`) + "\n");
  return usage ? 2 : 1;
}
