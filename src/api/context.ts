import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "../command/permissions.js";

/** The authenticated caller, set by the server's authentication interceptor. */
export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "authenticated principal",
});
