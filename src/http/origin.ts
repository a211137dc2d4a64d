/** Where a request came from, as recorded in the events it causes. */
import { clientIpOf, type PeerRequest } from "./client_address.js";

export interface RequestOrigin {
  /** the peer's address, or the X-Forwarded-For client when the peer is a trusted proxy */
  readonly clientIp: string;
  /** the User-Agent header, printable ASCII only, at most USER_AGENT_MAX_LENGTH characters */
  readonly userAgent?: string;
}

export const USER_AGENT_MAX_LENGTH = 200;

export function requestOrigin(req: PeerRequest, isTrustedProxy: (ip: string) => boolean): RequestOrigin {
  const userAgent = cleanUserAgent(req.headers["user-agent"]);
  return { clientIp: clientIpOf(req, isTrustedProxy), ...(userAgent !== undefined && { userAgent }) };
}

/** Anything outside printable ASCII becomes "?", so that a stored value cannot steer a terminal or a log parser. */
export function cleanUserAgent(value: string | string[] | undefined): string | undefined {
  const text = (Array.isArray(value) ? value.join(" ") : value ?? "").trim();
  if (text === "") return undefined;
  return text.slice(0, USER_AGENT_MAX_LENGTH).replace(/[^\x20-\x7e]/g, "?");
}
