/**
 * auth0.js (the auth0-js package, bundled with esbuild) in a real browser
 * (Debian's chromium driven by playwright-core): a page on another origin
 * calls webAuth.changePassword against latchkey.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Browser, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANGE_PASSWORD_ANSWER } from "../src/auth0/change_password.js";
import { UserEvents } from "../src/command/user/events.js";
import { runCli } from "./support/cli.js";
import { addUser, eventsOfType, waitUntil } from "./support/notification.js";
import { launchChromium } from "./support/browser.js";
import { startTestServer, tempDir, type TestServer } from "./support/server.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUTPUT = path.join(ROOT, "test-output");

/** The app's page: a form that asks auth0.js for a reset mail and shows what its callback got. */
const PAGE_SCRIPT = `
import auth0 from "auth0-js";

const params = new URLSearchParams(location.search);
const webAuth = new auth0.WebAuth({ domain: params.get("domain"), clientID: params.get("clientID") });

document.querySelector("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const output = document.querySelector("#result");
  output.textContent = "sending…";
  webAuth.changePassword(
    { connection: document.querySelector("#connection").value, email: document.querySelector("#email").value },
    (err, resp) => {
      window.result = err ? { error: { code: err.code, description: err.description, statusCode: err.statusCode } } : { resp };
      output.textContent = err ? "Error: " + err.description : resp;
      output.dataset.state = err ? "error" : "success";
    },
  );
});
`;

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Shop: forgot password</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto}label{display:block;margin:.5rem 0}input{width:100%;padding:.4rem}#result{margin-top:1rem;padding:.6rem;background:#eef}</style>
</head>
<body>
<h1>Forgot your password?</h1>
<form>
  <label>Email <input id="email" type="email" autocomplete="email"></label>
  <label>Connection <input id="connection" value="Username-Password-Authentication"></label>
  <button type="submit">Send me a reset link</button>
</form>
<p id="result" aria-live="polite"></p>
<script src="/auth0-page.js"></script>
</body>
</html>`;

let server: TestServer;
let page: http.Server;
let pageOrigin: string;
let clientId: string;
let browser: Browser;
let bundleDir: string;

beforeAll(async () => {
  bundleDir = tempDir("latchkey-auth0js-");
  await build({
    stdin: { contents: PAGE_SCRIPT, resolveDir: ROOT, sourcefile: "auth0-page.js" },
    outfile: path.join(bundleDir, "auth0-page.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    logLevel: "warning",
  });
  fs.writeFileSync(path.join(bundleDir, "index.html"), PAGE_HTML);

  page = http.createServer((req, res) => {
    const file = req.url === "/auth0-page.js" ? "auth0-page.js" : "index.html";
    res.writeHead(200, { "content-type": file.endsWith(".js") ? "text/javascript" : "text/html; charset=utf-8" });
    res.end(fs.readFileSync(path.join(bundleDir, file)));
  });
  await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;

  server = await startTestServer();
  const added = await runCli(["app", "add", "--name", "shop", "--origin", pageOrigin, "--data-dir", server.dataDir]);
  expect(added.code).toBe(0);
  clientId = added.stdout.trim();

  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => page?.close(resolve));
  await server?.close();
  if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
});

interface Visit {
  page: Page;
  problems: string[];
}

async function openPage(): Promise<Visit> {
  const tab = await browser.newPage();
  const problems: string[] = [];
  tab.on("pageerror", (err) => problems.push(err.message));
  const query = new URLSearchParams({ domain: server.url, clientID: clientId });
  expect((await tab.goto(`${pageOrigin}/?${query}`))?.status()).toBe(200);
  return { page: tab, problems };
}

async function submit(tab: Page, email: string, connection?: string): Promise<unknown> {
  await tab.getByLabel("Email").fill(email);
  if (connection !== undefined) await tab.getByLabel("Connection").fill(connection);
  await tab.getByRole("button", { name: "Send me a reset link" }).click();
  await tab.locator("#result[data-state]").waitFor();
  return tab.evaluate(() => (window as unknown as { result: unknown }).result);
}

describe("auth0.js webAuth.changePassword", () => {
  it("gets Auth0's success string from latchkey, across origins, and the reset starts", async () => {
    const email = `browser-${Math.random().toString(36).slice(2)}@example.com`;
    const { userId } = await addUser(server.url, server.adminToken, { email });
    const { page: tab, problems } = await openPage();
    const requests: Request[] = [];
    tab.on("request", (req) => requests.push(req));

    expect(await submit(tab, email)).toEqual({ resp: CHANGE_PASSWORD_ANSWER });
    await expect(tab.locator("#result").textContent()).resolves.toBe(CHANGE_PASSWORD_ANSWER);
    await tab.screenshot({ path: path.join(OUTPUT, "auth0-change-password.png"), fullPage: true });

    // auth0.js posted JSON to latchkey with its telemetry header, after a preflight
    const post = requests.find((r) => r.method() === "POST")!;
    expect(post.url()).toBe(`${server.url}/dbconnections/change_password`);
    expect(await post.allHeaders()).toMatchObject({ "content-type": "application/json", origin: pageOrigin, "auth0-client": expect.any(String) });
    const calls = server.logs.map((l) => JSON.parse(l) as { protocol?: string; method?: string; status?: number }).filter((l) => l.protocol === "auth0");
    expect(calls.map((c) => `${c.method} ${c.status}`)).toEqual(["OPTIONS /dbconnections/change_password 204", "POST /dbconnections/change_password 200"]);
    expect(problems).toEqual([]);

    const events = async () => server.server.app.store.readAggregate({ type: "user", id: userId });
    await waitUntil(async () => eventsOfType(await events(), UserEvents.passwordCodeAdded).length === 1, "the reset");
    await tab.close();
  });

  it("hands Auth0-style errors to the callback", async () => {
    const { page: tab } = await openPage();
    expect(await submit(tab, "someone@example.com", "No-Such-Connection")).toEqual({
      error: { code: "invalid_request", description: "connection No-Such-Connection does not exist", statusCode: 400 },
    });
    await tab.close();
  });
});
