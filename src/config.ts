/** Settings of a running server: flags win over environment, environment over defaults. */
import path from "node:path";
import { addressMatcher } from "./http/client_address.js";
import { DEFAULT_RATE_LIMITS, parseLimitSpec, type RateLimitSettings } from "./ratelimit/rules.js";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./http/connection_limits.js";
import { ConfigError } from "./errors/errors.js";

export { ConfigError };

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** origin that links in messages point to, e.g. https://login.example.com */
  externalUrl: string;
  tls?: { certFile: string; keyFile: string };
  corsOrigins: string[];
  /** largest request body accepted, on every protocol */
  maxBodyBytes: number;
  /** timeouts and sizes that bound what one connection may hold */
  connectionLimits: ConnectionLimits;
  codeLength: number;
  codeTtlSeconds: number;
  /** wrong codes after which a pending reset code is invalidated */
  maxCodeAttempts: number;
  /** argon2id cost of new password hashes */
  argon2: { memoryKiB: number; iterations: number; parallelism: number };
  /** password hashes and verifies that may wait for one of the few running; more are refused */
  argon2MaxQueue: number;
  logLevel: string;
  /** smtp://user:pass@host:port or smtps://…; without it email goes to the outbox */
  smtpUrl?: string;
  /** From address; default noreply@<external-url host> */
  smtpFrom: string;
  /** without it SMS go to the outbox */
  smsWebhook?: { url: string; secret: string };
  /** a k-anonymity range API of breached passwords (HIBP's format), asked for organizations that reject breached passwords */
  breachedRangeUrl?: string;
  /** files here replace the built-in message templates of the same name */
  templatesDir?: string;
  notifyMaxAttempts: number;
  /** delay before the first retry; doubles per attempt */
  notifyRetryDelayMs: number;
  notifyPollMs: number;
  rateLimits: RateLimitSettings;
  /** peers whose X-Forwarded-For is believed: addresses and CIDR ranges */
  trustedProxies: string[];
  /** postgres://…: the shared PostgreSQL database; without it the SQLite file in the data directory */
  databaseUrl?: string;
  /** file holding the code-encryption key in base64 */
  encryptionKeyFile?: string;
  /** the code-encryption key itself, base64 */
  encryptionKey?: string;
  /** earlier keys (files or base64 values) that still decrypt codes */
  encryptionKeysOld: string[];
  /** how long one instance holds a message it is delivering before another may take it over */
  notifyLeaseMs: number;
  /** port of the separate Prometheus /metrics server; without it there are no metrics */
  metricsPort?: number;
  metricsHost: string;
  /** how long an accepted token is remembered; 0 looks it up on every call */
  tokenCacheSeconds: number;
  /** threads serving the port; 1 serves from the main thread alone */
  workers: number;
}

export interface ConfigField {
  flag: string;
  env: string;
  description: string;
  parse: (value: string, config: Config) => void;
}


function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

export const CONFIG_FIELDS: readonly ConfigField[] = [
  { flag: "host", env: "LATCHKEY_HOST", description: "address to listen on (default 0.0.0.0)", parse: (v, c) => void (c.host = v) },
  { flag: "port", env: "LATCHKEY_PORT", description: "port for every protocol (default 8080)", parse: (v, c) => void (c.port = integer("port", 0, 65535)(v)) },
  { flag: "data-dir", env: "LATCHKEY_DATA_DIR", description: "directory of the database, keys and admin token (default ./data)", parse: (v, c) => void (c.dataDir = path.resolve(v)) },
  { flag: "external-url", env: "LATCHKEY_EXTERNAL_URL", description: "public origin used in reset links (default http://localhost:<port>)", parse: (v, c) => void (c.externalUrl = externalUrl(v)) },
  { flag: "tls-cert", env: "LATCHKEY_TLS_CERT", description: "PEM certificate file; with --tls-key serves TLS (h2 and http/1.1)", parse: (v, c) => void (c.tls = { certFile: v, keyFile: c.tls?.keyFile ?? "" }) },
  { flag: "tls-key", env: "LATCHKEY_TLS_KEY", description: "PEM private key file for --tls-cert", parse: (v, c) => void (c.tls = { certFile: c.tls?.certFile ?? "", keyFile: v }) },
  { flag: "cors-origins", env: "LATCHKEY_CORS_ORIGINS", description: "comma-separated origins allowed to call from a browser, or *", parse: (v, c) => void (c.corsOrigins = v.split(",").map((o) => o.trim()).filter(Boolean)) },
  { flag: "max-body-bytes", env: "LATCHKEY_MAX_BODY_BYTES", description: "largest request body in bytes (default 1048576)", parse: (v, c) => void (c.maxBodyBytes = integer("max-body-bytes", 1024, 64 * 1024 * 1024)(v)) },
  { flag: "headers-timeout", env: "LATCHKEY_HEADERS_TIMEOUT", description: "milliseconds for a connection's TLS handshake and first bytes, an HTTP/1.1 request's headers, a new HTTP/2 connection's first stream (default 10000)", parse: connectionLimit("headers-timeout", "headersTimeoutMs", 100, 600_000) },
  { flag: "request-timeout", env: "LATCHKEY_REQUEST_TIMEOUT", description: "milliseconds to receive a whole request, headers and body, per HTTP/1.1 request and HTTP/2 stream (default 30000)", parse: connectionLimit("request-timeout", "requestTimeoutMs", 100, 3_600_000) },
  { flag: "keep-alive-timeout", env: "LATCHKEY_KEEP_ALIVE_TIMEOUT", description: "milliseconds an idle HTTP/1.1 connection is kept open for its next request (default 5000)", parse: connectionLimit("keep-alive-timeout", "keepAliveTimeoutMs", 100, 3_600_000) },
  { flag: "http2-idle-timeout", env: "LATCHKEY_HTTP2_IDLE_TIMEOUT", description: "milliseconds an HTTP/2 connection may go without an open stream before it is closed with GOAWAY (default 60000)", parse: connectionLimit("http2-idle-timeout", "http2IdleTimeoutMs", 100, 86_400_000) },
  { flag: "http2-max-concurrent-streams", env: "LATCHKEY_HTTP2_MAX_CONCURRENT_STREAMS", description: "streams one HTTP/2 connection may have open at once; more are refused (default 250)", parse: connectionLimit("http2-max-concurrent-streams", "http2MaxConcurrentStreams", 1, 100_000) },
  { flag: "http2-max-session-memory", env: "LATCHKEY_HTTP2_MAX_SESSION_MEMORY", description: "MiB one HTTP/2 connection may buffer before its new streams are refused (default 10)", parse: connectionLimit("http2-max-session-memory", "http2MaxSessionMemoryMiB", 1, 1024) },
  { flag: "http2-keepalive-interval", env: "LATCHKEY_HTTP2_KEEPALIVE_INTERVAL", description: "milliseconds an HTTP/2 connection may send nothing before it is pinged; 0 = never (default 30000)", parse: connectionLimit("http2-keepalive-interval", "http2KeepAliveIntervalMs", 0, 86_400_000) },
  { flag: "http2-keepalive-timeout", env: "LATCHKEY_HTTP2_KEEPALIVE_TIMEOUT", description: "milliseconds within which an HTTP/2 ping must be answered, or the connection is closed (default 10000)", parse: connectionLimit("http2-keepalive-timeout", "http2KeepAliveTimeoutMs", 100, 3_600_000) },
  { flag: "max-header-bytes", env: "LATCHKEY_MAX_HEADER_BYTES", description: "largest request header section (HTTP/1.1) or header list (HTTP/2) in bytes (default 16384)", parse: connectionLimit("max-header-bytes", "maxHeaderBytes", 1024, 1024 * 1024) },
  { flag: "code-length", env: "LATCHKEY_CODE_LENGTH", description: "characters in a reset code (default 6)", parse: (v, c) => void (c.codeLength = integer("code-length", 4, 20)(v)) },
  { flag: "code-ttl", env: "LATCHKEY_CODE_TTL", description: "seconds a reset code stays valid (default 3600)", parse: (v, c) => void (c.codeTtlSeconds = integer("code-ttl", 60, 7 * 24 * 3600)(v)) },
  { flag: "max-code-attempts", env: "LATCHKEY_MAX_CODE_ATTEMPTS", description: "wrong codes after which a reset code stops working (default 5)", parse: (v, c) => void (c.maxCodeAttempts = integer("max-code-attempts", 1, 100)(v)) },
  { flag: "argon2-memory", env: "LATCHKEY_ARGON2_MEMORY", description: "argon2id memory per password hash in KiB (default 19456)", parse: (v, c) => void (c.argon2.memoryKiB = integer("argon2-memory", 1024, 4 * 1024 * 1024)(v)) },
  { flag: "argon2-iterations", env: "LATCHKEY_ARGON2_ITERATIONS", description: "argon2id iterations per password hash (default 2)", parse: (v, c) => void (c.argon2.iterations = integer("argon2-iterations", 1, 100)(v)) },
  { flag: "argon2-parallelism", env: "LATCHKEY_ARGON2_PARALLELISM", description: "argon2id lanes per password hash (default 1)", parse: (v, c) => void (c.argon2.parallelism = integer("argon2-parallelism", 1, 16)(v)) },
  { flag: "argon2-max-queue", env: "LATCHKEY_ARGON2_MAX_QUEUE", description: "password hashes and checks that may wait while 2 run; more are refused with ResourceExhausted (default 64)", parse: (v, c) => void (c.argon2MaxQueue = integer("argon2-max-queue", 0, 100_000)(v)) },
  { flag: "smtp-url", env: "LATCHKEY_SMTP_URL", description: "SMTP server for email, smtp://user:pass@host:port or smtps://… (default: write to <data-dir>/outbox)", parse: (v, c) => void (c.smtpUrl = smtpUrl(v)) },
  { flag: "smtp-from", env: "LATCHKEY_SMTP_FROM", description: "From address of emails (default noreply@<external-url host>)", parse: (v, c) => void (c.smtpFrom = v) },
  { flag: "sms-webhook-url", env: "LATCHKEY_SMS_WEBHOOK_URL", description: "URL that receives each SMS as signed JSON (default: write to <data-dir>/outbox)", parse: (v, c) => void (c.smsWebhook = { url: httpUrl("sms-webhook-url", v), secret: c.smsWebhook?.secret ?? "" }) },
  { flag: "sms-webhook-secret", env: "LATCHKEY_SMS_WEBHOOK_SECRET", description: "HMAC-SHA256 key that signs SMS webhook requests", parse: (v, c) => void (c.smsWebhook = { url: c.smsWebhook?.url ?? "", secret: v }) },
  { flag: "breached-range-url", env: "LATCHKEY_BREACHED_RANGE_URL", description: "k-anonymity range API of breached passwords, e.g. https://api.pwnedpasswords.com/range; only the first 5 hex digits of the SHA-1 are sent (default: the shipped list only)", parse: (v, c) => void (c.breachedRangeUrl = httpUrl("breached-range-url", v)) },
  { flag: "templates-dir", env: "LATCHKEY_TEMPLATES_DIR", description: "directory of message templates that replace the built-in ones", parse: (v, c) => void (c.templatesDir = path.resolve(v)) },
  { flag: "notify-max-attempts", env: "LATCHKEY_NOTIFY_MAX_ATTEMPTS", description: "delivery attempts before a message is recorded as failed (default 10)", parse: (v, c) => void (c.notifyMaxAttempts = integer("notify-max-attempts", 1, 100)(v)) },
  { flag: "notify-retry-delay", env: "LATCHKEY_NOTIFY_RETRY_DELAY", description: "milliseconds before the first retry, doubled per attempt with jitter (default 1000)", parse: (v, c) => void (c.notifyRetryDelayMs = integer("notify-retry-delay", 1, 3_600_000)(v)) },
  { flag: "notify-poll-interval", env: "LATCHKEY_NOTIFY_POLL_INTERVAL", description: "milliseconds between looks for new events (default 250)", parse: (v, c) => void (c.notifyPollMs = integer("notify-poll-interval", 1, 60_000)(v)) },
  { flag: "rate-limits", env: "LATCHKEY_RATE_LIMITS", description: "on, or off to turn every rate limit off (default on)", parse: (v, c) => void (c.rateLimits = { ...c.rateLimits, enabled: oneOf("rate-limits", v, ["on", "off"]) === "on" }) },
  { flag: "rate-limit-change-password", env: "LATCHKEY_RATE_LIMIT_CHANGE_PASSWORD", description: "change_password calls per client IP and email, e.g. 1/m,burst=10 or off (default 1/m,burst=10)", parse: rateLimit("rate-limit-change-password", "changePassword") },
  { flag: "rate-limit-change-password-ip", env: "LATCHKEY_RATE_LIMIT_CHANGE_PASSWORD_IP", description: "change_password calls per client IP over all emails, e.g. 50/h or off (default 50/h)", parse: rateLimit("rate-limit-change-password-ip", "changePasswordPerIp") },
  { flag: "rate-limit-anonymous-ip", env: "LATCHKEY_RATE_LIMIT_ANONYMOUS_IP", description: "calls without a token (SetPassword with a code) per client IP, e.g. 10/m,burst=30 or off (default 10/m,burst=30)", parse: rateLimit("rate-limit-anonymous-ip", "anonymousPerIp") },
  { flag: "rate-limit-reset-user", env: "LATCHKEY_RATE_LIMIT_RESET_USER", description: "message-sending PasswordResets per user, e.g. 10/h or off (default 10/h)", parse: rateLimit("rate-limit-reset-user", "resetPerUser") },
  { flag: "rate-limit-reset-token", env: "LATCHKEY_RATE_LIMIT_RESET_TOKEN", description: "PasswordResets per calling token, e.g. 600/m or off (default 600/m)", parse: rateLimit("rate-limit-reset-token", "resetPerToken") },
  { flag: "trusted-proxies", env: "LATCHKEY_TRUSTED_PROXIES", description: "comma-separated proxy addresses or CIDR ranges whose X-Forwarded-For names the client", parse: (v, c) => void (c.trustedProxies = trustedProxies(v)) },
  { flag: "database-url", env: "LATCHKEY_DATABASE_URL", description: "postgres://user:pass@host:port/db shared by several instances (default: SQLite in the data directory)", parse: (v, c) => void (c.databaseUrl = databaseUrl(v)) },
  { flag: "encryption-key-file", env: "LATCHKEY_ENCRYPTION_KEY_FILE", description: "file with the 32-byte code-encryption key in base64 (required with PostgreSQL; default <data-dir>/encryption.key)", parse: (v, c) => void (c.encryptionKeyFile = path.resolve(v)) },
  { flag: "encryption-key", env: "LATCHKEY_ENCRYPTION_KEY", description: "the code-encryption key in base64, instead of a file", parse: (v, c) => void (c.encryptionKey = v) },
  { flag: "encryption-keys-old", env: "LATCHKEY_ENCRYPTION_KEYS_OLD", description: "comma-separated earlier keys (files or base64 values) that still decrypt codes", parse: (v, c) => void (c.encryptionKeysOld = v.split(",").map((k) => k.trim()).filter(Boolean)) },
  { flag: "notify-lease", env: "LATCHKEY_NOTIFY_LEASE", description: "milliseconds an instance holds a message it delivers before another may take it over; longer than the slowest delivery (default 120000)", parse: (v, c) => void (c.notifyLeaseMs = integer("notify-lease", 100, 3_600_000)(v)) },
  { flag: "workers", env: "LATCHKEY_WORKERS", description: "threads that serve the port, sharing the writer, the rate limits and the notifier (default 1)", parse: (v, c) => void (c.workers = integer("workers", 1, 64)(v)) },
  { flag: "token-cache-ttl", env: "LATCHKEY_TOKEN_CACHE_TTL", description: "seconds an accepted token is remembered; a locked or removed caller keeps access this long (default 5, 0 = off)", parse: (v, c) => void (c.tokenCacheSeconds = integer("token-cache-ttl", 0, 300)(v)) },
  { flag: "metrics-port", env: "LATCHKEY_METRICS_PORT", description: "port of a separate HTTP server with Prometheus metrics at /metrics (default: no metrics)", parse: (v, c) => void (c.metricsPort = integer("metrics-port", 0, 65535)(v)) },
  { flag: "metrics-host", env: "LATCHKEY_METRICS_HOST", description: "address the metrics server listens on (default 127.0.0.1)", parse: (v, c) => void (c.metricsHost = v) },
  { flag: "log-level", env: "LATCHKEY_LOG_LEVEL", description: "fatal, error, warn, info, debug (default info)", parse: (v, c) => void (c.logLevel = oneOf("log-level", v, ["fatal", "error", "warn", "info", "debug", "trace", "silent"])) },
];

function connectionLimit(name: string, key: keyof ConnectionLimits, min: number, max: number) {
  return (value: string, config: Config): void => {
    config.connectionLimits = { ...config.connectionLimits, [key]: integer(name, min, max)(value) };
  };
}

function oneOf(name: string, value: string, allowed: string[]): string {
  if (!allowed.includes(value)) throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  return value;
}

function rateLimit(name: string, key: Exclude<keyof RateLimitSettings, "enabled">) {
  return (value: string, config: Config): void => {
    try {
      config.rateLimits = { ...config.rateLimits, [key]: parseLimitSpec(value) };
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`);
    }
  };
}

function trustedProxies(value: string): string[] {
  const entries = value.split(",").map((e) => e.trim()).filter(Boolean);
  try {
    addressMatcher(entries);
  } catch (err) {
    throw new ConfigError(`trusted-proxies: ${(err as Error).message}`);
  }
  return entries;
}

function smtpUrl(value: string): string {
  if (!/^smtps?:\/\/[^/?#]+/.test(value)) throw new ConfigError("smtp-url must look like smtp://user:pass@host:port or smtps://…");
  return value;
}

function databaseUrl(value: string): string {
  if (!/^postgres(ql)?:\/\/[^/?#]*/.test(value)) throw new ConfigError("database-url must be a postgres:// URL");
  return value;
}

function httpUrl(name: string, value: string): string {
  if (!/^https?:\/\/[^/?#]+/.test(value)) throw new ConfigError(`${name} must be an http or https URL`);
  return value;
}

function externalUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`external-url must be an absolute URL, got "${value}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError("external-url must use http or https");
  return url.origin + url.pathname.replace(/\/+$/, "");
}

export function defaultConfig(): Config {
  return {
    host: "0.0.0.0",
    port: 8080,
    dataDir: path.resolve("data"),
    externalUrl: "",
    corsOrigins: [],
    maxBodyBytes: 1024 * 1024,
    connectionLimits: { ...DEFAULT_CONNECTION_LIMITS },
    codeLength: 6,
    codeTtlSeconds: 3600,
    maxCodeAttempts: 5,
    argon2: { memoryKiB: 19_456, iterations: 2, parallelism: 1 },
    argon2MaxQueue: 64,
    logLevel: "info",
    smtpFrom: "",
    notifyMaxAttempts: 10,
    notifyRetryDelayMs: 1000,
    notifyPollMs: 250,
    rateLimits: { ...DEFAULT_RATE_LIMITS },
    trustedProxies: [],
    encryptionKeysOld: [],
    notifyLeaseMs: 120_000,
    metricsHost: "127.0.0.1",
    tokenCacheSeconds: 5,
    workers: 1,
  };
}

/** Builds the configuration from environment variables and parsed flags. */
export function loadConfig(env: NodeJS.ProcessEnv, flags: Record<string, string | undefined>): Config {
  const config = defaultConfig();
  for (const field of CONFIG_FIELDS) {
    const value = flags[field.flag] ?? env[field.env];
    if (value !== undefined && value !== "") field.parse(value, config);
  }
  if (config.tls && (!config.tls.certFile || !config.tls.keyFile)) {
    throw new ConfigError("tls-cert and tls-key must be given together");
  }
  if (config.smsWebhook && (!config.smsWebhook.url || !config.smsWebhook.secret)) {
    throw new ConfigError("sms-webhook-url and sms-webhook-secret must be given together");
  }
  if (config.encryptionKey && config.encryptionKeyFile) {
    throw new ConfigError("encryption-key and encryption-key-file exclude each other");
  }
  if (config.externalUrl === "") config.externalUrl = `http://localhost:${config.port}`;
  return config;
}
