/**
 * The REST gateway: transcodes HTTP/JSON calls on the annotated paths into
 * calls of the same router, with the same interceptors, over an in-process
 * transport, and writes the answer as grpc-gateway does.
 */
import { toJson, type DescService } from "@bufbuild/protobuf";
import { Code, createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import type { HttpRoute } from "../../http/route.js";
import { GatewayError, methodNotAllowed, unsupportedMediaType, writeError } from "./errors.js";
import { BodyTooLargeError, callHeaders, isJsonContentType, readBodyBytes, requestUrl, sendJson, type HttpRequest, type HttpResponse, type JsonResponse } from "../../http/io.js";
import { decodeBody, requestMessage } from "./request.js";
import { restRoutes, type RestRoute } from "./routes.js";

export interface GatewayOptions {
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  maxBodyBytes: number;
}

export interface Gateway {
  /** the services whose annotated methods it serves */
  services: DescService[];
  /** answers requests on the REST paths, 405 for a wrong method */
  route: HttpRoute;
  /** the JSON 404 for every request nothing else answered */
  notFound: (req: HttpRequest, res: JsonResponse) => void;
  /** whether a path is one of its routes', whatever the method */
  handles: (path: string) => boolean;
  /** the HTTP methods of its routes, e.g. GET, POST, DELETE */
  methods: string[];
}

/** Request headers handed on to the call; everything else stays at the edge. */
const FORWARDED_HEADERS = ["authorization", "x-request-id"];

export function restGateway({ routes, interceptors, maxBodyBytes }: GatewayOptions): Gateway {
  let router!: ConnectRouter;
  const transport = createRouterTransport(
    (r) => {
      routes(r);
      router = r;
    },
    { router: { interceptors, readMaxBytes: maxBodyBytes } },
  );
  const services = [...new Set(router.handlers.map((h) => h.service))];
  const table = restRoutes(services);

  async function serve(route: RestRoute, captures: string[], req: HttpRequest, res: HttpResponse, url: URL) {
    try {
      const body = route.body === "" ? "" : jsonBody(req, await readBodyBytes(req, maxBodyBytes));
      const input = requestMessage(route, body, captures, url.searchParams);
      const header = new Headers();
      for (const name of FORWARDED_HEADERS) {
        const value = req.headers[name];
        if (typeof value === "string") forwardHeader(header, name, value);
      }
      const result = await transport.unary(route.method, undefined, undefined, header, input);
      sendJson(res, 200, toJson(route.method.output, result.message), callHeaders(result.header, result.trailer));
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        writeError(res, new GatewayError(Code.ResourceExhausted, "GATEWAY-Bd5t9", "Errors.Gateway.BodyTooLarge", err.message, 413));
      } else {
        writeError(res, err);
      }
    }
  }

  const route: HttpRoute = (req, res) => {
    const url = requestUrl(req);
    const matches = table.flatMap((r) => {
      const captures = r.pattern.exec(url.pathname);
      return captures ? [{ route: r, captures: captures.slice(1) }] : [];
    });
    if (matches.length === 0) return false;
    const match = matches.find((m) => m.route.httpMethod === req.method);
    if (!match) {
      const allow = [...new Set(matches.map((m) => m.route.httpMethod))];
      writeError(res, methodNotAllowed(req.method, url.pathname, allow), { allow: allow.join(", ") });
      return true;
    }
    void serve(match.route, match.captures, req, res, url);
    return true;
  };

  const notFound = (req: HttpRequest, res: JsonResponse) => {
    const path = requestUrl(req).pathname;
    writeError(res, new GatewayError(Code.NotFound, "GATEWAY-Nf3r8", "Errors.Gateway.NotFound", `No route for ${req.method} ${path}`));
  };

  const handles = (path: string) => table.some((r) => r.pattern.test(path));

  return { services, route, notFound, handles, methods: [...new Set(table.map((r) => r.httpMethod))] };
}

/**
 * The text of a body sent as JSON. Anything else is refused rather than parsed
 * anyway: a form or text/plain is what a browser posts cross-site without a
 * preflight. An empty body has nothing to misread and may come without a type.
 */
function jsonBody(req: HttpRequest, bytes: Buffer): string {
  const contentType = req.headers["content-type"];
  if (bytes.length > 0 && !isJsonContentType(contentType)) throw unsupportedMediaType(contentType);
  return decodeBody(bytes);
}

/** Fetch's Headers refuses NUL, CR, LF and characters past U+00FF with a TypeError. */
function forwardHeader(headers: Headers, name: string, value: string): void {
  try {
    headers.set(name, value);
  } catch {
    const code = name === "authorization" ? Code.Unauthenticated : Code.InvalidArgument;
    throw new GatewayError(code, "GATEWAY-Hv6r3", "Errors.Gateway.InvalidHeader", `header ${name} holds a character a header value may not`);
  }
}
