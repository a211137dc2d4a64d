import { addApplication } from "../../command/application/commands.js";
import { STORE_FLAGS, command, list, required, text, withStore } from "../command.js";

const FLAGS = {
  name: text("NAME", "name of the application", { required: true }),
  origin: text("URL", "browser origin allowed to call on its behalf, e.g. https://app.example.com (repeatable)", { multiple: true }),
  ...STORE_FLAGS,
};

export const appAdd = command("app add", "register an application for Auth0-compatible calls; prints its client id", FLAGS, (values) =>
  withStore(values, (aggregates) => addApplication(aggregates, { name: required(values, "name"), origins: list(values, "origin") })),
);
