/** The Node request and response every route on the one port sees, HTTP/1.1 or HTTP/2. */
import type * as http from "node:http";
import type * as http2 from "node:http2";

export type HttpRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type HttpResponse = http.ServerResponse | http2.Http2ServerResponse;

export type RequestHandler = (req: HttpRequest, res: HttpResponse) => void;

/** A route answers the requests it recognises and returns true; false passes the request on. */
export type HttpRoute = (req: HttpRequest, res: HttpResponse) => boolean;
