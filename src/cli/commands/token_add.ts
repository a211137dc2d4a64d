import { STORE_FLAGS, command, required, text, withOperator } from "../command.js";

const FLAGS = { user: text("ID", "id of the machine user", { required: true }), ...STORE_FLAGS };

export const tokenAdd = command("token add", "create a personal access token for a machine user; prints the token", FLAGS, (values) =>
  withOperator(values, (ops) => ops.addToken(required(values, "user"))),
);
