/**
 * Follows the event store and delivers the messages its events promise.
 *
 * Each poll reads the events after the checkpoint and turns the ones that may
 * need a message into jobs, in the same transaction that moves the checkpoint,
 * so nothing is lost in a crash. Due jobs are delivered concurrently; a failed
 * one is rescheduled on its own, so it never holds up the others. Success and
 * final failure are recorded as events on the user.
 */
import type { Aggregates } from "../command/aggregates.js";
import { execute } from "../command/execute.js";
import { UserEvents } from "../command/user/events.js";
import type { CodeCipher } from "../crypto/code_cipher.js";
import type { EventStore, StoredEvent } from "../eventstore/eventstore.js";
import type { Logger } from "../logger.js";
import { codeOf, decideDelivery, messageIdOf, needsMessage, triggerOf, type Channel } from "./decide.js";
import { recipientModel, type DeliveryFailedPayload, type DeliveryRecordPayload, type Recipient } from "./fold.js";
import { resetLink, type MessageValues, type Templates } from "./messages.js";
import { DeliveryError, type EmailMessage, type Provider, type SmsMessage } from "./providers/provider.js";
import type { Job, NotificationState } from "./state.js";

export interface NotifierOptions {
  store: EventStore;
  state: NotificationState;
  aggregates: Aggregates;
  cipher: CodeCipher;
  templates: Templates;
  providers: { email: Provider<EmailMessage>; sms: Provider<SmsMessage> };
  logger: Logger;
  clock: () => Date;
  externalUrl: string;
  maxAttempts: number;
  /** milliseconds to wait after the n-th failed attempt */
  retryDelay: (failures: number) => number;
  pollMs: number;
  /** deliveries at the same time (default 8) */
  concurrency?: number;
  /** least time between two status lines (default 10 s) */
  statusEveryMs?: number;
  /** values that must never reach a log line or event, such as the SMTP password */
  secrets?: readonly string[];
  /** told of every delivery outcome, for metrics */
  onDelivery?: (outcome: DeliveryOutcome, channel: Channel) => void;
}

/** sent; failed for good; failed and to be tried again */
export type DeliveryOutcome = "sent" | "failed" | "retry";

export interface Notifier {
  /** Stops polling and waits for the deliveries in flight. */
  close(): Promise<void>;
}

const EDITOR = "notification";
const BATCH = 500;

export function startNotifier(options: NotifierOptions): Notifier {
  const { store, state, logger, clock, providers } = options;
  const concurrency = options.concurrency ?? 8;
  const statusEveryMs = options.statusEveryMs ?? 10_000;
  const domain = new URL(options.externalUrl).hostname || "localhost";
  const inFlight = new Map<number, Promise<void>>();
  const counts = { sent: 0, failed: 0, skipped: 0 };
  let lastStatus = { at: 0, key: "" };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  /** New events after the checkpoint become jobs. */
  async function scan(): Promise<void> {
    for (;;) {
      const events = await store.readAfter(await state.checkpoint(), BATCH);
      const last = events.at(-1);
      if (!last) return;
      const jobs = events.filter(needsMessage).map((e) => ({
        position: e.position,
        aggregateType: e.aggregateType,
        aggregateId: e.aggregateId,
        sequence: e.sequence,
        createdAt: e.createdAt.getTime(),
      }));
      await state.advance(jobs, last.position, clock().getTime());
      if (events.length < BATCH) return;
    }
  }

  /** Claims as many due jobs as there are free delivery slots and starts them. */
  async function dispatch(): Promise<void> {
    const free = concurrency - inFlight.size;
    if (free <= 0 || stopped) return;
    for (const job of await state.claimDue(clock().getTime(), free)) {
      // its lease ran out while this process is still delivering it
      if (inFlight.has(job.position)) continue;
      const delivery = deliver(job)
        .catch((err: unknown) => deliveryCrashed(job, err))
        .finally(() => {
          inFlight.delete(job.position);
          // a freed slot takes the next due job now, not at the next poll
          dispatchSoon();
        });
      inFlight.set(job.position, delivery);
    }
  }

  /** One dispatch at a time; a request during one runs another right after it. */
  let dispatching: Promise<void> | undefined;
  let dispatchAgain = false;
  function dispatchSoon(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (dispatching) {
      dispatchAgain = true;
      return dispatching;
    }
    dispatching = (async () => {
      do {
        dispatchAgain = false;
        await dispatch();
      } while (dispatchAgain && !stopped);
    })()
      .catch((err: unknown) => logger.error({ err: redact(errorText(err), options.secrets ?? []) }, "notifier: dispatch failed"))
      .finally(() => (dispatching = undefined));
    return dispatching;
  }

  async function deliver(job: Job): Promise<void> {
    const ref = { type: job.aggregateType, id: job.aggregateId };
    const [event] = await store.readAggregate(ref, job.sequence - 1);
    if (!event || event.sequence !== job.sequence) return finish(job, "skipped", { userId: job.aggregateId, reason: "event not found" });
    const user = await options.aggregates.load(ref, recipientModel);
    const messageId = messageIdOf(event, domain);
    const about = { messageId, userId: event.aggregateId, trigger: event.type };
    const decision = decideDelivery(user, event, clock());

    if (decision.action === "skip") return finish(job, "skipped", { ...about, reason: decision.reason });
    if (decision.action === "fail") {
      await recordFailure(job, event, messageId, decision.channel, decision.reason, job.attempts);
      options.onDelivery?.("failed", decision.channel);
      return finish(job, "failed", { ...about, channel: decision.channel, reason: decision.reason });
    }

    const secrets = [...(options.secrets ?? [])];
    const attempt = job.attempts + 1;
    let receipt: Record<string, string> | void;
    try {
      const { values, language } = messageValues(event, user, secrets);
      receipt = await send(decision.channel, decision.to, messageId, event, values, language);
    } catch (err) {
      const reason = redact(errorText(err), secrets);
      const permanent = err instanceof DeliveryError && err.permanent;
      if (permanent || attempt >= options.maxAttempts) {
        await recordFailure(job, event, messageId, decision.channel, reason, attempt);
        options.onDelivery?.("failed", decision.channel);
        return finish(job, "failed", { ...about, channel: decision.channel, attempt, permanent, reason });
      }
      const retryInMs = options.retryDelay(attempt);
      await state.reschedule(job.position, attempt, clock().getTime() + retryInMs);
      options.onDelivery?.("retry", decision.channel);
      logger.warn({ ...about, channel: decision.channel, attempt, retryInMs, reason }, "notifier: delivery failed, will retry");
      return;
    }

    const payload: DeliveryRecordPayload = { triggerSequence: event.sequence, messageId };
    await record(job, triggerOf(event)!.sent, payload);
    options.onDelivery?.("sent", decision.channel);
    const provider = providers[decision.channel].name;
    return finish(job, "sent", { ...about, channel: decision.channel, provider, attempt, ...receipt });
  }

  /** The store failed around a delivery: try the job again later, without recording anything. */
  async function deliveryCrashed(job: Job, err: unknown): Promise<void> {
    const attempt = job.attempts + 1;
    const retryInMs = options.retryDelay(attempt);
    logger.error({ userId: job.aggregateId, attempt, retryInMs, err: redact(errorText(err), options.secrets ?? []) }, "notifier: delivery crashed");
    // When the database is gone this fails too: the job stays due, and its claim runs out.
    await state.reschedule(job.position, attempt, clock().getTime() + retryInMs).catch(() => {});
  }

  /** The message's values; the plain code is added to `secrets` so no log line carries it. */
  function messageValues(event: StoredEvent, user: Recipient, secrets: string[]): { values: MessageValues; language?: string } {
    const { profile, username } = user.human!;
    const values: MessageValues = {
      displayName: profile.displayName || `${profile.givenName} ${profile.familyName}`.trim(),
      givenName: profile.givenName,
      familyName: profile.familyName,
      username,
    };
    const code = codeOf(event);
    if (code) {
      values.code = options.cipher.decrypt(code.code);
      secrets.push(values.code);
      values.link = resetLink({
        externalUrl: options.externalUrl,
        ...(code.urlTemplate !== undefined && { urlTemplate: code.urlTemplate }),
        ...(code.linkParams && { linkParams: code.linkParams }),
        userId: event.aggregateId,
        orgId: event.resourceOwner,
        code: values.code,
      });
    }
    return { values, ...(profile.preferredLanguage && { language: profile.preferredLanguage }) };
  }

  function send(channel: Channel, to: string, messageId: string, event: StoredEvent, values: MessageValues, language?: string) {
    const kind = triggerOf(event)!.kind;
    if (channel === "sms") {
      return providers.sms.send({ messageId, to, text: options.templates.sms(kind, language, values) });
    }
    return providers.email.send({ messageId, to, date: event.createdAt, ...options.templates.email(kind, language, values) });
  }

  async function record(job: Job, type: string, payload: DeliveryRecordPayload | DeliveryFailedPayload): Promise<void> {
    await execute(options.aggregates, { type: job.aggregateType, id: job.aggregateId }, recipientModel, (user) => ({
      events: user.handled.has(job.sequence) ? [] : [{ type, payload: { ...payload }, editor: EDITOR }],
    }));
  }

  function recordFailure(job: Job, event: StoredEvent, messageId: string, channel: Channel, reason: string, attempts: number) {
    return record(job, UserEvents.notificationFailed, { triggerSequence: event.sequence, messageId, channel, reason, attempts });
  }

  /** Logs the outcome, then drops the job; were that to fail, the job comes back and is skipped as handled. */
  async function finish(job: Job, outcome: keyof typeof counts, fields: Record<string, unknown>): Promise<void> {
    counts[outcome]++;
    const message = `notifier: message ${outcome}`;
    if (outcome === "failed") logger.error(fields, message);
    else logger.info(fields, message);
    await state.remove(job.position);
  }

  async function status(): Promise<Record<string, unknown>> {
    const { head, pending, oldestPendingAt } = await state.stats();
    const checkpoint = await state.checkpoint();
    return {
      checkpoint,
      head,
      lag: head - checkpoint,
      pending,
      ...(oldestPendingAt !== undefined && { oldestPendingMs: Math.max(0, clock().getTime() - oldestPendingAt) }),
      ...counts,
    };
  }

  /** A status line when something changed, at most every `statusEveryMs`. */
  async function logStatus(): Promise<void> {
    const now = Date.now();
    if (now - lastStatus.at < statusEveryMs) return;
    const current = await status();
    const key = JSON.stringify({ ...current, oldestPendingMs: undefined });
    if (key === lastStatus.key) return;
    lastStatus = { at: now, key };
    logger.info(current, "notifier: status");
  }

  async function tick(): Promise<void> {
    await scan();
    await dispatchSoon();
    await logStatus();
  }

  function schedule(delayMs = options.pollMs): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((err: unknown) => logger.error({ err: redact(errorText(err), options.secrets ?? []) }, "notifier: poll failed"))
        .finally(() => schedule());
    }, delayMs);
  }

  running = status()
    .catch(() => ({}))
    .then((current) => {
      logger.info({ email: providers.email.name, sms: providers.sms.name, ...current }, "notifier: started");
      schedule(0);
    });

  return {
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await dispatching;
      await Promise.allSettled([...inFlight.values()]);
      providers.email.close?.();
      providers.sms.close?.();
      logger.info(await status().catch(() => counts), "notifier: stopped");
    },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Replaces every occurrence of a secret in a text. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((out, secret) => out.split(secret).join("[redacted]"), text);
}
