import { describeBackend, openBackend } from "../../eventstore/open.js";
import { STORE_FLAGS, backendOptions, command } from "../command.js";

export const migrate = command("migrate", "apply the database migrations and exit", STORE_FLAGS, async (values) => {
  const options = backendOptions(values);
  const { store } = await openBackend(options);
  await store.close();
  process.stdout.write(`migrated ${describeBackend(options)}\n`);
  return 0;
});
