import type { Logger } from "../logger.js";
import type { NotificationState } from "../notification/state.js";
import type { Metrics } from "./metrics.js";

/** Lets the notifier gauges read the notifier's progress from its state when scraped. */
export function watchNotifier(metrics: Metrics, state: NotificationState, clock: () => Date, logger: Logger): void {
  metrics.watchNotifier(async () => {
    try {
      const [{ head, pending, oldestPendingAt }, checkpoint] = await Promise.all([state.stats(), state.checkpoint()]);
      const oldestPendingSeconds = oldestPendingAt === undefined ? 0 : Math.max(0, clock().getTime() - oldestPendingAt) / 1000;
      return { lag: Math.max(0, head - checkpoint), pending, oldestPendingSeconds };
    } catch (err) {
      logger.warn({ err }, "metrics: reading the notifier's state failed");
      throw err;
    }
  });
}
