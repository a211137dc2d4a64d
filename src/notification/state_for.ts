import type { Backend } from "../eventstore/open.js";
import { postgresNotificationState } from "./postgres_state.js";
import { sqliteNotificationState, type NotificationState } from "./state.js";

/** The notifier's state in the backend's own database: claims in memory on SQLite, leases shared by instances on PostgreSQL. */
export function notificationStateFor(backend: Backend, options: { leaseMs: number }): NotificationState {
  return backend.kind === "postgresql" ? postgresNotificationState(backend.store.pool, options) : sqliteNotificationState(backend.store.db);
}
