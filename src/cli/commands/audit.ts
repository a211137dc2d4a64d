import { auditEntries, formatJsonLines, formatLines } from "../../query/audit_history.js";
import { USER_AGGREGATE } from "../../command/user/events.js";
import { loadConfig } from "../../config.js";
import { openStore } from "../../server/app.js";
import { STORE_FLAGS, backendOptions, command, required, text, toggle } from "../command.js";

const FLAGS = {
  user: text("ID", "id of the user", { required: true }),
  json: toggle("one JSON object per event instead of one line"),
  ...STORE_FLAGS,
};

export const audit = command("audit", "print a user's history: what happened, who asked and from where", FLAGS, async (values) => {
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
});
