import type { Role } from "../../command/user/events.js";
import { STORE_FLAGS, UsageError, command, required, text, withOperator } from "../command.js";

const ROLES: readonly Role[] = ["IAM_OWNER", "ORG_OWNER"];

const FLAGS = {
  org: text("ID", "organization the user belongs to", { required: true }),
  username: text("NAME", "login name of the machine user", { required: true }),
  role: text(ROLES.join("|"), "IAM_OWNER (every organization) or ORG_OWNER (its own organization)", { required: true }),
  ...STORE_FLAGS,
};

export const machineUserAdd = command("machine-user add", "create a machine user with a role; prints its id", FLAGS, (values) => {
  const role = required(values, "role");
  if (!ROLES.includes(role as Role)) throw new UsageError(`--role must be IAM_OWNER or ORG_OWNER, got "${role}"`);
  return withOperator(values, (ops) => ops.addMachineUser(required(values, "org"), required(values, "username"), role as Role));
});
