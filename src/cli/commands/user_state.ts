/** `user unlock` and `user reactivate`: an operator's way back for a user, an administrator's machine user too. */
import { STORE_FLAGS, command, required, text, withOperator } from "../command.js";

const FLAGS = { user: text("ID", "id of the user (human or machine)", { required: true }), ...STORE_FLAGS };

export const userUnlock = command("user unlock", "unlock a locked user, an administrator's machine user too; prints its id and state", FLAGS, (values) =>
  withOperator(values, async (ops) => JSON.stringify(await ops.unlockUser(required(values, "user")))),
);

export const userReactivate = command("user reactivate", "reactivate a deactivated user, an administrator's machine user too; prints its id and state", FLAGS, (values) =>
  withOperator(values, async (ops) => JSON.stringify(await ops.reactivateUser(required(values, "user")))),
);
