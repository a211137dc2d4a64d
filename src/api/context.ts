import { createContextKey } from "@connectrpc/connect";
import type { RequestOrigin } from "../http/origin.js";
import type { Principal } from "../command/permissions.js";

/** The authenticated caller, set by the server's authentication interceptor. */
export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "authenticated principal",
});

/** Where the call came from, set from the Node request by the server (see requestOrigin). */
export const originKey = createContextKey<RequestOrigin | undefined>(undefined, {
  description: "client address and user agent of the request",
});
