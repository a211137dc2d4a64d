import type { Writable } from "node:stream";
import type { HttpRoute } from "../http/route.js";
import type { RequestSeries } from "./metrics.js";

/** The route, with each request it answers counted and timed by the status it sent; without a series the route itself. */
export function measuredRoute(route: HttpRoute, series: RequestSeries | undefined): HttpRoute {
  if (!series) return route;
  return (req, res) => {
    const started = performance.now();
    if (!route(req, res)) return false;
    // a request the client gave up on before the answer is not counted
    (res as Writable).once("finish", () => series.observe(res.statusCode, started));
    return true;
  };
}
