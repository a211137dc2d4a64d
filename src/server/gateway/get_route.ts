import type { HttpRoute } from "../../http/route.js";
import { methodNotAllowed, writeError } from "./errors.js";
import { requestUrl, type HttpResponse } from "../../http/io.js";

/** An HttpRoute for one fixed path that answers GET (and HEAD); other methods get 405. */
export function getRoute(path: string, answer: (res: HttpResponse) => void | Promise<void>): HttpRoute {
  return (req, res) => {
    if (requestUrl(req).pathname !== path) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      writeError(res, methodNotAllowed(req.method, path, ["GET", "HEAD"]), { allow: "GET, HEAD" });
      return true;
    }
    Promise.resolve()
      .then(() => answer(res))
      .catch((err: unknown) => writeError(res, err));
    return true;
  };
}
