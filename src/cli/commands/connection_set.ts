import { setConnectionName } from "../../command/org/connection.js";
import { STORE_FLAGS, command, required, text, withStore } from "../command.js";

const FLAGS = {
  org: text("ID", "organization whose users the connection holds", { required: true }),
  name: text("NAME", "connection name, e.g. acme-users (the default organization answers to Username-Password-Authentication until named)", { required: true }),
  ...STORE_FLAGS,
};

export const connectionSet = command("connection set", "name an organization's user store for Auth0-compatible calls; prints the name", FLAGS, (values) =>
  withStore(values, async (aggregates) => {
    const name = required(values, "name");
    await setConnectionName(aggregates, required(values, "org"), name);
    return name;
  }),
);
