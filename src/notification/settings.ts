/** What the notifier reads of the configuration; the server passes its Config, which has all of it. */
export interface NotificationSettings {
  /** the outbox's folder when no provider is set, and the SQLite file's */
  dataDir: string;
  databaseUrl?: string | undefined;
  logLevel: string;
  /** origin of the hosted page's default link */
  externalUrl: string;
  smtpUrl?: string | undefined;
  /** From address; empty means noreply@ the external URL's host */
  smtpFrom: string;
  smsWebhook?: { url: string; secret: string } | undefined;
  templatesDir?: string | undefined;
  notifyMaxAttempts: number;
  notifyRetryDelayMs: number;
  notifyPollMs: number;
  notifyLeaseMs: number;
}
