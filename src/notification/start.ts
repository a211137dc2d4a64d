/** Builds the notifier from the configuration: providers and templates. */
import type { Aggregates } from "../command/aggregates.js";
import type { NotificationSettings } from "./settings.js";
import type { CodeCipher } from "../crypto/code_cipher.js";
import type { EventStore } from "../eventstore/eventstore.js";
import type { Logger } from "../logger.js";
import { retryDelay } from "./decide.js";
import { loadTemplates } from "./messages.js";
import { startNotifier, type Notifier, type NotifierOptions } from "./notifier.js";
import { outbox } from "./providers/outbox.js";
import { smsWebhookProvider } from "./providers/sms_webhook.js";
import { smtpProvider } from "./providers/smtp.js";
import type { NotificationState } from "./state.js";

export interface NotificationDeps {
  store: EventStore;
  state: NotificationState;
  aggregates: Aggregates;
  cipher: CodeCipher;
  clock: () => Date;
  logger: Logger;
  onDelivery?: NotifierOptions["onDelivery"];
}

export function startNotification(config: NotificationSettings, deps: NotificationDeps): Notifier {
  const from = config.smtpFrom || `noreply@${new URL(config.externalUrl).hostname}`;
  const files = outbox(config.dataDir, from);
  const email = config.smtpUrl ? smtpProvider(config.smtpUrl, from) : files.email;
  const sms = config.smsWebhook ? smsWebhookProvider(config.smsWebhook.url, config.smsWebhook.secret, deps.clock) : files.sms;
  return startNotifier({
    ...deps,
    templates: loadTemplates(config.templatesDir),
    providers: { email, sms },
    externalUrl: config.externalUrl,
    maxAttempts: config.notifyMaxAttempts,
    retryDelay: (failures) => retryDelay(failures, config.notifyRetryDelayMs),
    pollMs: config.notifyPollMs,
    secrets: [...smtpPassword(config.smtpUrl), config.smsWebhook?.secret ?? ""].filter((s) => s !== ""),
  });
}

/** The password of an SMTP URL as written and decoded. */
function smtpPassword(url: string | undefined): string[] {
  const raw = url ? new URL(url).password : "";
  return raw ? [raw, decodeURIComponent(raw)] : [];
}
