import type { DescService } from "@bufbuild/protobuf";
import { getRoute } from "./gateway/get_route.js";
import { sendJson } from "../http/io.js";
import { openApiDocument } from "./gateway/openapi.js";
import type { HttpRoute } from "../http/route.js";

/** GET /openapi.json: the document of the REST routes, as `npm run generate` writes it to openapi/openapi.json. */
export function openApiRoute(services: readonly DescService[]): HttpRoute {
  const document = openApiDocument(services);
  return getRoute("/openapi.json", (res) => sendJson(res, 200, document));
}
