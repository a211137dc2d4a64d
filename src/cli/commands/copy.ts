import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../../config.js";
import { DATABASE_FILE } from "../../eventstore/data_dir.js";
import { describeBackend } from "../../eventstore/open.js";
import { UsageError, command, required, text } from "../command.js";
import { copySqliteToPostgres } from "../copy_to_postgres.js";

const FLAGS = {
  from: text("DIR|FILE", `data directory (its ${DATABASE_FILE}) or SQLite file of the instance to copy; stop that instance first`, { required: true }),
  to: text("postgres://…", "PostgreSQL database to copy into; must hold no events yet", { required: true }),
};

export const copy = command("copy", "copy a stopped SQLite instance into an empty PostgreSQL database", FLAGS, async (values) => {
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
});
