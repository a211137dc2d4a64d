/** Whose address a request is: the peer, or the client a trusted proxy names in X-Forwarded-For. */
import { BlockList, isIP } from "node:net";

/** Matches addresses against a list of addresses and CIDR ranges (IPv4 or IPv6); throws for an entry that is neither. */
export function addressMatcher(entries: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", prefix, extra] = entry.split("/");
    const family = isIP(address);
    const bits = Number(prefix);
    const maxBits = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (prefix !== undefined && (!/^\d+$/.test(prefix) || bits > maxBits))) {
      throw new Error(`"${entry}" is not an IP address or a CIDR range`);
    }
    const type = family === 6 ? "ipv6" : "ipv4";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return (ip) => {
    const family = isIP(ip);
    return family !== 0 && list.check(ip, family === 6 ? "ipv6" : "ipv4");
  };
}

/** "::ffff:192.0.2.1", as a dual-stack socket names an IPv4 peer, is 192.0.2.1. */
export function normalizeIp(ip: string): string {
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : undefined;
  return v4 !== undefined && isIP(v4) === 4 ? v4 : ip;
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy; then
 * X-Forwarded-For is read from the right, skipping trusted proxies, and the
 * first other address is the client. Entries left of it may be made up.
 */
export function clientIp(peer: string, forwardedFor: string | undefined, isTrusted: (ip: string) => boolean): string {
  let ip = normalizeIp(peer);
  const hops = (forwardedFor ?? "").split(",").map((hop) => normalizeIp(hop.trim())).filter((hop) => hop !== "");
  while (isTrusted(ip) && hops.length > 0) {
    const next = hops.pop()!;
    if (isIP(next) === 0) break;
    ip = next;
  }
  return ip;
}

/** What clientIpOf reads of a Node request (HTTP/1.1 or HTTP/2). */
export interface PeerRequest {
  readonly socket: { readonly remoteAddress?: string | undefined };
  readonly headers: NodeJS.Dict<string | string[]>;
}

/** clientIp of a request: its socket's peer and its X-Forwarded-For headers (all of them, in order). */
export function clientIpOf(req: PeerRequest, isTrusted: (ip: string) => boolean): string {
  const forwarded = req.headers["x-forwarded-for"];
  return clientIp(req.socket.remoteAddress ?? "", Array.isArray(forwarded) ? forwarded.join(",") : forwarded, isTrusted);
}
