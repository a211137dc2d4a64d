import { Writable } from "node:stream";
import type { MessagePort } from "node:worker_threads";
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

/** What standard output may hold unwritten while its reader lags; lines beyond it are dropped, not waited for. */
const MAX_UNWRITTEN_BYTES = 16 * 1024 * 1024;

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "latchkey" },
      redact: { paths: REDACT, censor: "[redacted]" },
      hooks: { streamWrite: scrubUrlPasswords },
    },
    options.destination ?? standardOutput(),
  );
}

/** Lines are held until this many bytes are waiting, or until the next flush... */
const WRITE_AT_BYTES = 4096;
/** ...which comes this often, so a quiet server's lines still show promptly. */
const FLUSH_EVERY_MS = 100;

/**
 * Standard output written from libuv's thread pool: a call's log line never
 * waits on the write or on a reader that lags. Lines go out in pieces of
 * about 4 KB (or every 100 ms): a write per line would cost each call a
 * hand-over to the pool thread and back. pino writes what is left
 * synchronously when the process exits.
 */
function standardOutput(): pino.DestinationStream {
  return pino.destination({ fd: 1, sync: false, maxLength: MAX_UNWRITTEN_BYTES, minLength: WRITE_AT_BYTES, periodicFlush: FLUSH_EVERY_MS });
}

/**
 * The logger of the one line per call (see loggingInterceptor). Its fields are
 * fixed and named by none of the redaction paths, and their values are
 * strings and numbers, so it skips the redaction walk, which costs more than
 * the rest of writing the line. The finished line is still scrubbed.
 */
export function accessLogger(logger: Logger): Logger {
  return logger.child({}, { redact: [] });
}

/** Finished lines on their way to the thread that writes the log (see lineRelay). */
export interface LineRelay {
  /** the logger's destination */
  readonly stream: NodeJS.WritableStream;
  /** sends the lines not sent yet now, so a message posted next comes after them */
  flush(): void;
}

/**
 * For a logger in another thread: hands the finished lines (redacted,
 * scrubbed) to `post`, which sends them to the thread that writes the log.
 * The lines of one turn of the event loop go in one message, each ending in
 * a newline.
 */
export function lineRelay(post: (text: string) => void): LineRelay {
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    post(text);
  };
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      if (pending.length === 0) setImmediate(flush);
      pending.push(typeof chunk === "string" ? chunk : chunk.toString("utf8"));
      done();
    },
  });
  return { stream, flush };
}

/**
 * A worker thread's way to the thread that started it: `log` is the
 * destination for its logger (see lineRelay), and `post` sends any other
 * message after the lines written before it, so none comes after "stopped".
 */
export function threadMessages<M>(port: MessagePort, logMessage: (text: string) => M): { log: NodeJS.WritableStream; post(message: M): void } {
  const relay = lineRelay((text) => port.postMessage(logMessage(text)));
  return {
    log: relay.stream,
    post(message) {
      relay.flush();
      port.postMessage(message);
    },
  };
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
