import { createContextKey } from "@connectrpc/connect";
import type { RequestOrigin } from "../http/origin.js";
import type { Principal } from "../command/permissions.js";

/** The authenticated caller, set by the server's authentication interceptor. */
export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "authenticated principal",
});

/** The SHA-256 of the caller's bearer token, set with the principal: tokens are looked up and counted by it. */
export const tokenHashKey = createContextKey<string | undefined>(undefined, {
  description: "hash of the caller's bearer token",
});

/** Where the call came from, set from the Node request by the server (see requestOrigin). */
export const originKey = createContextKey<RequestOrigin | undefined>(undefined, {
  description: "client address and user agent of the request",
});
