/** Finding applications by client id or allowed origin. */
import { clientIdConstraint, originLookup } from "../command/application/commands.js";
import { APPLICATION_AGGREGATE, foldApplication, type ApplicationState } from "../command/application/events.js";
import type { EventStore } from "../eventstore/eventstore.js";

export async function findApplication(store: EventStore, clientId: string): Promise<ApplicationState | undefined> {
  const id = await store.findUnique(clientIdConstraint(clientId));
  if (id === undefined) return undefined;
  const app = foldApplication(await store.readAggregate({ type: APPLICATION_AGGREGATE, id }));
  return app.exists ? app : undefined;
}

/** Whether any application allows this browser origin (asked by preflight requests, which name no client). */
export async function anyApplicationAllows(store: EventStore, origin: string): Promise<boolean> {
  return (await store.findLookup(originLookup(origin))).length > 0;
}
