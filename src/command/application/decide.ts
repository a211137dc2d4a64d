/** Rules of the application aggregate as pure functions. */
import { alreadyExists, invalidArgument } from "../../errors/errors.js";
import type { NewEvent } from "../../eventstore/eventstore.js";
import { ApplicationEvents, type ApplicationAddedPayload, type ApplicationState } from "./events.js";

export const MAX_APPLICATION_NAME_LENGTH = 100;

/** An http(s) URL without path, query or credentials, as the origin browsers send (https://app.example.com). */
export function normalizeOrigin(text: string): string {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  const isOrigin =
    url !== undefined &&
    (url.protocol === "http:" || url.protocol === "https:") &&
    url.pathname === "/" &&
    url.search === "" &&
    url.hash === "" &&
    url.username === "" &&
    url.password === "";
  if (!isOrigin) throw invalidArgument("APP-0r1g1", "Errors.Application.InvalidOrigin", `"${text}" is not an origin such as https://app.example.com`);
  return url.origin;
}

export function decideAddApplication(state: ApplicationState, app: ApplicationAddedPayload): NewEvent[] {
  if (state.exists) throw alreadyExists("APP-Ex1st", "Errors.Application.AlreadyExists", "Application already exists");
  const name = app.name.trim();
  if (name === "" || name.length > MAX_APPLICATION_NAME_LENGTH) {
    throw invalidArgument("APP-N4me1", "Errors.Application.InvalidName", `An application name has 1 to ${MAX_APPLICATION_NAME_LENGTH} characters`);
  }
  const origins = [...new Set(app.origins.map(normalizeOrigin))];
  const payload: ApplicationAddedPayload = { name, clientId: app.clientId, origins };
  return [{ type: ApplicationEvents.added, payload: { ...payload }, editor: "system" }];
}

export function allowsOrigin(app: ApplicationState, origin: string): boolean {
  return app.origins.includes(origin);
}
