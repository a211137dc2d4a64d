import { AsyncLocalStorage } from "node:async_hooks";
import { createContextKey, type Interceptor } from "@connectrpc/connect";
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

/**
 * The origin of calls that reach the router without a Node request of their
 * own: the REST gateway calls it over an in-process transport, which carries
 * headers but no context values. `route` wraps the gateway's HTTP route so the
 * request is known along the call's async path; `interceptor`, in the
 * gateway's chain, puts its origin into the call's context.
 */
export function inProcessOrigin<R>(originOf: (req: R) => RequestOrigin) {
  const current = new AsyncLocalStorage<R>();
  const interceptor: Interceptor = (next) => (req) => {
    const outer = current.getStore();
    if (outer !== undefined) req.contextValues.set(originKey, originOf(outer));
    return next(req);
  };
  const route =
    <A extends unknown[], T>(inner: (req: R, ...rest: A) => T) =>
    (req: R, ...rest: A): T =>
      current.run(req, () => inner(req, ...rest));
  return { interceptor, route };
}
