/** Settings of a running server: flags win over environment, environment over defaults. */
import path from "node:path";

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
  codeLength: number;
  codeTtlSeconds: number;
  logLevel: string;
}

export interface ConfigField {
  flag: string;
  env: string;
  description: string;
  parse: (value: string, config: Config) => void;
}

export class ConfigError extends Error {}

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
  { flag: "code-length", env: "LATCHKEY_CODE_LENGTH", description: "characters in a reset code (default 6)", parse: (v, c) => void (c.codeLength = integer("code-length", 4, 20)(v)) },
  { flag: "code-ttl", env: "LATCHKEY_CODE_TTL", description: "seconds a reset code stays valid (default 3600)", parse: (v, c) => void (c.codeTtlSeconds = integer("code-ttl", 60, 7 * 24 * 3600)(v)) },
  { flag: "log-level", env: "LATCHKEY_LOG_LEVEL", description: "fatal, error, warn, info, debug (default info)", parse: (v, c) => void (c.logLevel = oneOf("log-level", v, ["fatal", "error", "warn", "info", "debug", "trace", "silent"])) },
];

function oneOf(name: string, value: string, allowed: string[]): string {
  if (!allowed.includes(value)) throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${value}"`);
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
    codeLength: 6,
    codeTtlSeconds: 3600,
    logLevel: "info",
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
  if (config.externalUrl === "") config.externalUrl = `http://localhost:${config.port}`;
  return config;
}
