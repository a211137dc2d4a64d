import { pino, type Logger } from "pino";

/** Paths that may hold a secret; pino replaces them wherever they appear. */
const REDACT = [
  "token",
  "code",
  "password",
  "key",
  "*.token",
  "*.code",
  "*.password",
  "*.key",
  "*.authorization",
  "headers.authorization",
  "*.verificationCode",
  "*.currentPassword",
];

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    { level: options.level ?? "info", base: { service: "latchkey" }, redact: { paths: REDACT, censor: "[redacted]" } },
    options.destination ?? process.stdout,
  );
}

export type { Logger };
