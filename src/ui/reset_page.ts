/**
 * The hosted reset page at ZITADEL's default link,
 * /ui/login/password/init?userID=..&code=..&orgID=.., and its two assets.
 * The server checks the link's code first, as SetPassword does (a wrong one
 * counts), and shows the organization's policy and the form only for a valid
 * link. The page is rendered without the code or user id: its script reads
 * both from the query string and calls SetPassword over gRPC-web.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import type { RequestOrigin } from "../http/origin.js";
import { describePolicy } from "../command/password_policy.js";
import { describeRules } from "../command/password_rules/describe.js";
import type { ResetLink } from "../command/user/commands.js";
import type { Logger } from "../logger.js";
import type { HttpRoute } from "../http/route.js";

export const RESET_PAGE_PATH = "/ui/login/password/init";
const ASSETS_PATH = "/ui/login/assets/";

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const COMMON_HEADERS = {
  "x-content-type-options": "nosniff",
  // the page's URL holds the code: never send it on
  "referrer-policy": "no-referrer",
};

const ASSET_TYPES: Record<string, string> = {
  "reset.js": "text/javascript; charset=utf-8",
  "reset.css": "text/css; charset=utf-8",
  // the strength estimator, about 450 KB: only pages whose policy asks for a strength load it
  "strength.js": "text/javascript; charset=utf-8",
};

// tsc copies no .hbs files and the bundle is built into dist/ui, so both are
// looked up from the sources (tests) and from the compiled module alike.
const firstExisting = (...urls: URL[]) => urls.map((u) => fileURLToPath(u)).find((dir) => fs.existsSync(dir));
const TEMPLATES_DIR = firstExisting(new URL("./templates/", import.meta.url), new URL("../../../src/ui/templates/", import.meta.url))!;
const BUNDLE_DIR = firstExisting(new URL("../../ui/", import.meta.url), new URL("../../dist/ui/", import.meta.url));

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function loadAssets(): Map<string, Asset> {
  if (!BUNDLE_DIR) throw new Error("the reset page's script is not built: run `npm run build`");
  return new Map(
    Object.entries(ASSET_TYPES).map(([name, type]) => {
      const body = fs.readFileSync(`${BUNDLE_DIR}/${name}`);
      return [name, { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` }];
    }),
  );
}

/** What the page shows: exactly one of the link's states; rules and length only for a valid link. */
interface PageValues {
  linkValid: boolean;
  linkInvalid: boolean;
  linkLocked: boolean;
  linkIncomplete: boolean;
  rules: string[];
  /** what the password must not be, beyond the complexity rules */
  forbidden: string[];
  minLength: number;
  /** the lowest strength score accepted; 0: no estimate on the page */
  minStrength: number;
}

/** The longest code SetPassword accepts; a longer one cannot be right. */
const MAX_CODE_LENGTH = 20;
const MAX_USER_ID_LENGTH = 200;

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

function send(req: Req, res: Res, status: number, headers: Record<string, string>, body: string | Buffer = ""): void {
  const out = res as http.ServerResponse;
  out.writeHead(status, { ...COMMON_HEADERS, ...headers });
  out.end(req.method === "HEAD" ? undefined : body);
}

export interface ResetPageDeps {
  /** checks the link's code as SetPassword does, recording a wrong one */
  checkLink(userId: string, code: string, origin: RequestOrigin): Promise<ResetLink>;
  /** where the request came from */
  originOf(req: Req): RequestOrigin;
  logger: Logger;
}

export function resetPage(deps: ResetPageDeps): HttpRoute {
  const template = Handlebars.create().compile<PageValues>(fs.readFileSync(`${TEMPLATES_DIR}/reset.hbs`, "utf8"), { strict: true });
  let assets: Map<string, Asset> | undefined;

  async function page(req: Req, res: Res, query: URLSearchParams): Promise<void> {
    const userId = query.get("userID") ?? "";
    const code = query.get("code") ?? "";
    const incomplete = userId === "" || code === "";
    const tooLong = userId.length > MAX_USER_ID_LENGTH || code.length > MAX_CODE_LENGTH;
    const link: ResetLink | undefined = incomplete ? undefined : tooLong ? { kind: "invalid" } : await deps.checkLink(userId, code, deps.originOf(req));
    const html = template({
      linkValid: link?.kind === "valid",
      linkInvalid: link?.kind === "invalid",
      linkLocked: link?.kind === "locked",
      linkIncomplete: incomplete,
      rules: link?.kind === "valid" ? describePolicy(link.policy) : [],
      forbidden: link?.kind === "valid" ? describeRules(link.rules) : [],
      minLength: link?.kind === "valid" ? link.policy.minLength : 0,
      minStrength: link?.kind === "valid" ? link.rules.minStrength : 0,
    });
    send(req, res, 200, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "cache-control": "no-store",
    }, html);
  }

  function asset(req: Req, res: Res, name: string): void {
    assets ??= loadAssets();
    const found = assets.get(name);
    if (!found) return send(req, res, 404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
    const headers = { "content-type": found.type, "cache-control": "no-cache", etag: found.etag };
    if (req.headers["if-none-match"] === found.etag) return send(req, res, 304, headers);
    send(req, res, 200, headers, found.body);
  }

  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const url = new URL(req.url ?? "/", "http://localhost");
    const isPage = url.pathname === RESET_PAGE_PATH;
    if (!isPage && !url.pathname.startsWith(ASSETS_PATH)) return false;
    // never log the URL: its query holds the code and the user id
    const fail = (err: unknown) => {
      deps.logger.error({ err, path: url.pathname }, "reset page failed");
      if (!res.headersSent) send(req, res, 500, { "content-type": "text/plain; charset=utf-8" }, "internal error\n");
    };
    try {
      if (isPage) page(req, res, url.searchParams).catch(fail);
      else asset(req, res, url.pathname.slice(ASSETS_PATH.length));
    } catch (err) {
      fail(err);
    }
    return true;
  };
}
