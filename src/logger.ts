import { Writable } from "node:stream";
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

/** `scheme://user:password@` in any text, up to the end of the user info. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s"/?#@:]*):[^\s"/?#@]*@/gi;

/**
 * Replaces the password of every URL with credentials in a text. Error
 * messages quote URLs as given (fetch refuses one with credentials and names
 * it), so this runs over every finished line, whichever field holds the URL.
 */
export function scrubUrlPasswords(text: string): string {
  return text.includes("://") ? text.replace(URL_CREDENTIALS, "$1:[redacted]@") : text;
}

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "latchkey" },
      redact: { paths: REDACT, censor: "[redacted]" },
      hooks: { streamWrite: scrubUrlPasswords },
    },
    options.destination ?? process.stdout,
  );
}

/**
 * For a logger in another thread: hands each finished line (redacted,
 * scrubbed) to `post`, which sends it to the thread that writes the log.
 */
export function lineRelay(post: (line: string) => void): NodeJS.WritableStream {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") post(line);
      done();
    },
  });
}

/** Where a logger writes: the lines relayed from other threads go there too. */
export function destinationOf(logger: Logger): NodeJS.WritableStream {
  return (logger as unknown as Record<symbol, NodeJS.WritableStream>)[pino.symbols.streamSym]!;
}

/** A logger's own fields without the ones every line has (a thread's logger adds those itself). */
export function ownBindings(logger: Logger): Record<string, unknown> {
  const { service: _base, ...own } = logger.bindings();
  return own;
}

export type { Logger };
