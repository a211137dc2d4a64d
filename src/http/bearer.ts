import { unauthenticated } from "../errors/errors.js";

/**
 * The token of an `Authorization: Bearer <token>` header (scheme in any case), undefined
 * without the header. The token is RFC 6750's b64token: `A-Z a-z 0-9 - . _ ~ + /`, then
 * `=` padding only at the end; at most 512 characters. Anything else is Unauthenticated.
 */
export function parseBearer(header: string | null): string | undefined {
  if (header === null) return undefined;
  const token = /^Bearer[ \t]+([A-Za-z0-9._~+/-]+=*)[ \t]*$/i.exec(header)?.[1];
  if (token === undefined || token.length > 512) throw unauthenticated("AUTH-Hd7f1", "Errors.Token.Invalid", "Authorization header must be 'Bearer <token>'");
  return token;
}
