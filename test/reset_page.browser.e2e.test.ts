/** The hosted reset page in a real browser (Debian's chromium driven by playwright-core). */
import path from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { useClients } from "./support/clients.js";
import { TEST_OUTPUT, useBrowser } from "./support/browser.js";
import { useTestServer } from "./support/server.js";

const OUTPUT = TEST_OUTPUT;
const NEW_PASSWORD = "Browser-Reset-42";

const server = useTestServer();
const clients = useClients(server);
const client = () => clients("connect JSON (HTTP/1.1)");
const browser = useBrowser();

/** A user with a pending reset code, and ZITADEL's default link to the page. */
async function resetLink(): Promise<{ userId: string; code: string; link: string }> {
  const added = await client().call(
    "addHumanUser",
    { profile: { givenName: "Ada", familyName: "Lovelace" }, email: { email: `ada-${Math.random()}@example.com` } },
    server.adminToken,
  );
  if (!added.ok) throw new Error(added.message);
  const { userId } = added.value;
  const reset = await client().call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, server.adminToken);
  if (!reset.ok) throw new Error(reset.message);
  const code = reset.value.verificationCode!;
  const query = new URLSearchParams({ userID: userId, code, orgID: added.value.details!.resourceOwner });
  return { userId, code, link: `${server.url}/ui/login/password/init?${query}` };
}

interface Visit {
  page: Page;
  /** content types of the page's SetPassword requests */
  rpcContentTypes: string[];
  problems: string[];
}

async function open(link: string): Promise<Visit> {
  const page = await browser().newPage();
  const visit: Visit = { page, rpcContentTypes: [], problems: [] };
  page.on("request", (req) => {
    if (req.url().endsWith("/zitadel.user.v2.UserService/SetPassword")) visit.rpcContentTypes.push(req.headers()["content-type"] ?? "");
  });
  page.on("console", (msg) => {
    if (msg.type() === "error") visit.problems.push(msg.text());
  });
  page.on("pageerror", (err) => visit.problems.push(err.message));
  const response = await page.goto(link);
  expect(response?.status()).toBe(200);
  expect(response?.headers()["content-security-policy"]).toBe(
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  );
  return visit;
}

async function submit(page: Page, password: string, confirmation = password): Promise<void> {
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the new password").fill(confirmation);
  await page.getByRole("button", { name: "Set new password" }).click();
}

const grpcWebCalls = () =>
  server.logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((l) => l["method"] === "zitadel.user.v2.UserService/SetPassword" && l["protocol"] === "grpc-web");

describe("the hosted reset page", () => {
  it("sets a new password over gRPC-web, and the password then works", async () => {
    const { userId, code, link } = await resetLink();
    const before = grpcWebCalls().length;
    const { page, rpcContentTypes, problems } = await open(link);

    await expect(page.getByLabel("New password", { exact: true }).getAttribute("autocomplete")).resolves.toBe("new-password");
    await expect(page.getByLabel("Repeat the new password").getAttribute("autocomplete")).resolves.toBe("new-password");
    await expect(page.locator("#policy li").allTextContents()).resolves.toContain("at least 8 characters");

    await submit(page, NEW_PASSWORD);
    const success = page.locator('[data-state="success"]');
    await success.waitFor({ state: "visible" });
    expect(await success.textContent()).toContain("Your password has been changed");
    expect(await page.locator("#reset-form").isHidden()).toBe(true);
    await page.screenshot({ path: path.join(OUTPUT, "reset-page-success.png"), fullPage: true });

    // the browser spoke gRPC-web: seen by the browser and by the server
    expect(rpcContentTypes).toEqual(["application/grpc-web+proto"]);
    expect(grpcWebCalls().slice(before)).toMatchObject([{ status: "ok" }]);
    expect(problems).toEqual([]);
    // neither the code nor the user id from the link reached the log (the
    // notifier's delivery lines and the calls' lines name the user on purpose,
    // so they are left out: the page's own request names neither)
    const lines = server.logs.filter((l) => {
      const msg = String((JSON.parse(l) as { msg?: string }).msg);
      return !msg.startsWith("notifier:") && msg !== "call";
    });
    expect(server.logs.join("\n")).not.toContain(code);
    expect(lines.join("\n")).not.toContain(userId);

    const check = await client().call(
      "setPassword",
      { userId, newPassword: { password: "Another-Password-1" }, verification: { case: "currentPassword", value: NEW_PASSWORD } },
      server.adminToken,
    );
    expect(check.ok).toBe(true);
    await page.close();
  });

  it("a wrong code in the link shows that the link is not valid, without the form or the policy", async () => {
    const { code, link } = await resetLink();
    const wrong = link.replace(`code=${code}`, `code=${code === "AAAAAA" ? "BBBBBB" : "AAAAAA"}`);
    const { page, rpcContentTypes, problems } = await open(wrong);
    const state = page.locator('[data-state="invalid-link"]');
    expect(await state.isVisible()).toBe(true);
    expect(await state.textContent()).toContain("This reset link is not valid");
    expect(await page.locator("#reset-form").count()).toBe(0);
    expect(await page.locator("#policy").count()).toBe(0);
    await page.screenshot({ path: path.join(OUTPUT, "reset-page-invalid-link.png"), fullPage: true });
    expect(rpcContentTypes).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows the wrong-code state when a newer reset replaced the code after the page opened", async () => {
    const { userId, link } = await resetLink();
    const { page, rpcContentTypes, problems } = await open(link);
    expect((await client().call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, server.adminToken)).ok).toBe(true);
    await submit(page, NEW_PASSWORD);
    const state = page.locator('[data-state="wrong-code"]');
    await state.waitFor({ state: "visible" });
    expect(await state.textContent()).toContain("This reset link is not valid");
    expect(await page.locator("#reset-form").isHidden()).toBe(true);
    await page.screenshot({ path: path.join(OUTPUT, "reset-page-wrong-code.png"), fullPage: true });
    expect(rpcContentTypes).toEqual(["application/grpc-web+proto"]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("keeps the form for a mismatch and a policy failure, then succeeds", async () => {
    const { link } = await resetLink();
    const { page, rpcContentTypes } = await open(link);
    const error = page.locator("#form-error");

    await submit(page, NEW_PASSWORD, NEW_PASSWORD + "x");
    await expect(error.textContent()).resolves.toBe("The two passwords do not match.");
    expect(rpcContentTypes).toEqual([]);

    await submit(page, "weakpass");
    await page.waitForFunction(() => document.getElementById("form-error")?.textContent?.includes("policy"));
    const message = await error.textContent();
    for (const rule of ["an uppercase letter", "a digit", "a symbol"]) expect(message).toContain(rule);
    expect(await page.getByLabel("New password", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await page.screenshot({ path: path.join(OUTPUT, "reset-page-policy.png"), fullPage: true });

    await submit(page, NEW_PASSWORD);
    await page.locator('[data-state="success"]').waitFor({ state: "visible" });
    await page.close();
  });

  it("says so when the link has no code", async () => {
    const page = await browser().newPage();
    await page.goto(`${server.url}/ui/login/password/init?userID=1`);
    expect(await page.locator("#reset-form").count()).toBe(0);
    expect(await page.locator('[data-state="failed"]').textContent()).toContain("This reset link is incomplete");
    await page.close();
  });
});

describe("the page's assets", () => {
  it("are served with their types, and the page with no-store", async () => {
    const page = await fetch(`${server.url}/ui/login/password/init?userID=1&code=X`);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await page.text();
    expect(html).not.toContain("<script>");
    expect(html).toContain('<script src="../assets/reset.js" defer></script>');

    const script = await fetch(`${server.url}/ui/login/assets/reset.js`);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const etag = script.headers.get("etag")!;
    expect((await fetch(`${server.url}/ui/login/assets/reset.js`, { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await fetch(`${server.url}/ui/login/assets/reset.css`)).headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect((await fetch(`${server.url}/ui/login/assets/nope.js`)).status).toBe(404);
  });
});
