/** Plain HTTP helpers shared by the gateway and the other JSON endpoints. */
import type { HttpRequest } from "./route.js";

export type { HttpRequest, HttpResponse } from "./route.js";
/** What sending JSON needs of a response, so that Connect's fallback responses do as well. */
export interface JsonResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

export function sendJson(res: JsonResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Response headers of a call that an HTTP response carries on (the call's own are in lower case). */
const CALL_HEADERS = ["x-request-id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"];

export function callHeaders(...sources: Headers[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const source of sources) {
    for (const name of CALL_HEADERS) {
      const value = source.get(name);
      if (value !== null) headers[name] = value;
    }
  }
  return headers;
}

export class BodyTooLargeError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "HTTP-B0dy4";
}

/** The request body as text; rejects with BodyTooLargeError past `maxBytes` and discards the rest. */
export async function readBody(req: HttpRequest, maxBytes: number): Promise<string> {
  return (await readBodyBytes(req, maxBytes)).toString("utf8");
}

/** The request body as sent; rejects with BodyTooLargeError past `maxBytes` and discards the rest. */
export function readBodyBytes(req: HttpRequest, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => {
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      req.resume();
      reject(new BodyTooLargeError(`request body is larger than ${maxBytes} bytes`));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge();
      else chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
    if (Number(req.headers["content-length"] ?? 0) > maxBytes) tooLarge();
  });
}

/**
 * Whether a Content-Type names JSON: application/json or a +json structured
 * syntax suffix (RFC 6839), parameters such as charset allowed, in any case.
 * None of these is one a browser may send cross-site without a CORS preflight.
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const essence = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return essence === "application/json" || /^application\/[!#$&^_.+\w-]+\+json$/.test(essence);
}

/** Where requestUrl keeps a request's parsed URL: every route asks, until one answers. */
const PARSED_URL = Symbol("latchkey.url");

/**
 * The request's URL; the path stays as sent, even when it starts with "//".
 * Parsed once per request and shared, so callers only read it.
 */
export function requestUrl(req: HttpRequest): URL {
  const parsed = req as HttpRequest & { [PARSED_URL]?: URL };
  return (parsed[PARSED_URL] ??= parseRequestUrl(req.url ?? "/"));
}

function parseRequestUrl(raw: string): URL {
  try {
    return new URL(raw.startsWith("/") ? `http://localhost${raw}` : raw);
  } catch {
    return new URL("http://localhost/");
  }
}
