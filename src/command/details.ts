import type { StoredEvent } from "../eventstore/eventstore.js";

/** What a change reports back: taken from the appended event and the aggregate. */
export interface ObjectDetails {
  sequence: number;
  changeDate: Date;
  resourceOwner: string;
  creationDate: Date;
}

export function detailsOf(last: StoredEvent, createdAt: Date | undefined): ObjectDetails {
  return {
    sequence: last.sequence,
    changeDate: last.createdAt,
    resourceOwner: last.resourceOwner,
    creationDate: createdAt ?? last.createdAt,
  };
}
