import path from "node:path";
import { loadConfig } from "../../config.js";
import { dataDirExists } from "../../eventstore/data_dir.js";
import { formatOutboxMessage, outboxFiles, outboxMessageJson, readOutboxMessage } from "../../notification/outbox_messages.js";
import { NoInstanceError } from "../../server/app.js";
import { STORE_FLAGS, command, toggle } from "../command.js";

const FLAGS = {
  last: toggle("only the newest message"),
  json: toggle("one JSON object per message (time, medium, to, subject, links, file)"),
  "data-dir": STORE_FLAGS["data-dir"]!,
};

export const outbox = command("outbox", "list the messages in the outbox, newest first, with their links decoded", FLAGS, async (values) => {
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
});
