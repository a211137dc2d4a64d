import { STORE_FLAGS, command, required, text, withOperator } from "../command.js";

const FLAGS = { name: text("NAME", "name of the organization", { required: true }), ...STORE_FLAGS };

export const orgAdd = command("org add", "create an organization; prints its id", FLAGS, (values) => withOperator(values, (ops) => ops.addOrg(required(values, "name"))));
