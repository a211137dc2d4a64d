/**
 * The REST gateway: transcodes HTTP/JSON calls on the annotated paths into
 * calls of the same service implementations, through the same interceptors,
 * and writes the answer as grpc-gateway does. The call goes straight to the
 * implementation: no RPC protocol encodes it again in between.
 */
import { create, isMessage, toJson, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  Code,
  createContextValues,
  createHandlerContext,
  createMethodImplSpec,
  createServiceImplSpec,
  type ConnectRouter,
  type ContextValues,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { HttpRoute } from "../../http/route.js";
import { GatewayError, methodNotAllowed, unsupportedMediaType, writeError } from "./errors.js";
import { BodyTooLargeError, callHeaders, isJsonContentType, readBodyBytes, requestUrl, sendJson, type HttpRequest, type HttpResponse, type JsonResponse } from "../../http/io.js";
import { decodeBody, requestMessage } from "./request.js";
import { restRoutes, type RestRoute } from "./routes.js";

export interface GatewayOptions {
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  maxBodyBytes: number;
  /** the context values a call starts with, from its HTTP request */
  contextValues?: (req: HttpRequest) => ContextValues;
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

export function restGateway({ routes, interceptors, maxBodyBytes, contextValues = () => createContextValues() }: GatewayOptions): Gateway {
  const implementations = implementationsOf(routes);
  const services = [...new Set([...implementations.values()].map((spec) => spec.method.parent))];
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
      const result = await invoke(implementations.get(route.method)!, interceptors, req, header, contextValues(req), input);
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
    const path = url.pathname;
    // tried on every request, most of them RPCs that match no route: nothing is allocated for a miss
    const matches: { route: RestRoute; captures: string[] }[] = [];
    for (const r of table) {
      const captures = r.pattern.exec(path);
      if (captures) matches.push({ route: r, captures: captures.slice(1) });
    }
    if (matches.length === 0) return false;
    const match = matches.find((m) => m.route.httpMethod === req.method);
    if (!match) {
      const allow = [...new Set(matches.map((m) => m.route.httpMethod))];
      writeError(res, methodNotAllowed(req.method, path, allow), { allow: allow.join(", ") });
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

/** The implementation of every method `routes` registers, as a router would hold them. */
function implementationsOf(routes: (router: ConnectRouter) => void): Map<DescMethod, MethodImplSpec> {
  const specs = new Map<DescMethod, MethodImplSpec>();
  const recorder: ConnectRouter = {
    handlers: [],
    service(service, implementation) {
      for (const spec of Object.values(createServiceImplSpec(service, implementation).methods)) specs.set(spec.method, spec);
      return recorder;
    },
    rpc(method, impl) {
      specs.set(method, createMethodImplSpec(method, impl));
      return recorder;
    },
  };
  routes(recorder);
  return specs;
}

/** Runs a unary implementation behind the interceptors, the outermost first, as the router does for its protocols. */
async function invoke(
  spec: MethodImplSpec,
  interceptors: readonly Interceptor[],
  req: HttpRequest,
  header: Headers,
  values: ContextValues,
  input: UnaryRequest["message"],
): Promise<UnaryResponse> {
  if (spec.kind !== "unary") throw new Error(`${spec.method.name} is not unary`);
  const { method } = spec;
  const service = method.parent;
  const context = createHandlerContext({
    service,
    method,
    protocolName: "rest",
    requestMethod: req.method ?? "POST",
    url: req.url ?? "/",
    requestHeader: header,
    contextValues: values,
  });
  const implementation = async (call: UnaryRequest): Promise<UnaryResponse> => {
    const output = await spec.impl(call.message, { ...context, requestHeader: call.header, values: call.contextValues, signal: call.signal });
    return { stream: false, service, method, header: context.responseHeader, trailer: context.responseTrailer, message: asMessage(method.output, output) };
  };
  const next = interceptors.reduceRight((inner, interceptor) => interceptor(inner), implementation as Parameters<Interceptor>[0]);
  return (await next({
    stream: false,
    service,
    method,
    requestMethod: context.requestMethod,
    url: context.url,
    signal: context.signal,
    header,
    contextValues: values,
    message: input,
  })) as UnaryResponse;
}

/** An implementation may answer with a message or with the fields to make one. */
function asMessage(schema: DescMessage, output: unknown) {
  return isMessage(output, schema) ? output : create(schema, output as never);
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
