/**
 * What lies under an error: the messages of its `cause` chain, so that
 * "The database is unavailable (STORE-pG7vq)" reaches the log with
 * "getaddrinfo ENOTFOUND db.internal". Callers scrub URL passwords as for
 * any log text.
 */
const MAX_DEPTH = 5;

/** The causes' messages joined with ": ", or undefined when the error has no cause. */
export function describeCauses(err: unknown): string | undefined {
  const seen = new Set<string>([messageOf(err)]);
  const parts: string[] = [];
  let cause = causeOf(err);
  for (let depth = 0; cause !== undefined && depth < MAX_DEPTH; depth++) {
    const message = messageOf(cause);
    // a wrapper repeats its inner error's message (ConnectError over our error)
    if (message !== "" && !seen.has(message)) {
      seen.add(message);
      parts.push(message);
    }
    cause = causeOf(cause);
  }
  return parts.length > 0 ? parts.join(": ") : undefined;
}

function causeOf(err: unknown): unknown {
  return err instanceof Error ? err.cause : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    // a connection tried on every address of a host: "connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432"
    const inner = [...new Set(err.errors.map(messageOf).filter((m) => m !== ""))].join("; ");
    if (inner !== "") return inner;
  }
  if (err instanceof Error) {
    // a ConnectError's message has its code in front: "[unavailable] …"
    const raw = (err as { rawMessage?: unknown }).rawMessage;
    if (typeof raw === "string" && raw !== "") return raw;
    if (err.message !== "") return err.message;
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? code : err.name;
  }
  return String(err);
}
