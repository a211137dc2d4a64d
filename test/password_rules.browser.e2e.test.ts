/** The password rules on the hosted reset page, in a real browser (Debian's chromium driven by playwright-core). */
import path from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { setPasswordPolicies } from "../src/command/org/password_policy.js";
import { DEFAULT_PASSWORD_RULES, type PasswordRulesPolicy } from "../src/command/password_rules/policy.js";
import { UserEvents } from "../src/command/user/events.js";
import { useClients } from "./support/clients.js";
import { TEST_OUTPUT, useBrowser } from "./support/browser.js";
import { useTestServer } from "./support/server.js";

const OUTPUT = TEST_OUTPUT;
const FIRST = "Browser-Reset-42";
const STRONG = "Quartz-Lantern-Fjord-91";

const server = useTestServer();
const clients = useClients(server);
const client = () => clients("connect JSON (HTTP/1.1)");
const browser = useBrowser();

/** A user of an organization with these rules, its password FIRST, and a reset link to the page. */
async function resetLink(rules: Partial<PasswordRulesPolicy>): Promise<{ userId: string; link: string }> {
  const orgId = await server.operator.addOrg(`page-rules-${Math.random()}`);
  await setPasswordPolicies(server.server.app.aggregates, orgId, { rules: { ...DEFAULT_PASSWORD_RULES, ...rules } });
  const added = await client().call(
    "addHumanUser",
    {
      organization: { org: { case: "orgId", value: orgId } },
      profile: { givenName: "Ada", familyName: "Lovelace" },
      email: { email: `ada-${Math.random()}@example.com` },
      passwordType: { case: "password", value: { password: FIRST } },
    },
    server.adminToken,
  );
  if (!added.ok) throw new Error(added.message);
  const { userId } = added.value;
  const reset = await client().call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, server.adminToken);
  if (!reset.ok) throw new Error(reset.message);
  const query = new URLSearchParams({ userID: userId, code: reset.value.verificationCode!, orgID: orgId });
  return { userId, link: `${server.url}/ui/login/password/init?${query}` };
}

async function open(link: string): Promise<{ page: Page; scripts: string[]; problems: string[] }> {
  const page = await browser().newPage();
  const visit = { page, scripts: [] as string[], problems: [] as string[] };
  page.on("request", (req) => {
    if (req.resourceType() === "script") visit.scripts.push(new URL(req.url()).pathname);
  });
  page.on("console", (msg) => {
    if (msg.type() === "error") visit.problems.push(msg.text());
  });
  page.on("pageerror", (err) => visit.problems.push(err.message));
  await page.goto(link);
  return visit;
}

async function submit(page: Page, password: string): Promise<string> {
  const error = page.locator("#form-error");
  await page.evaluate(() => {
    document.getElementById("form-error")!.textContent = "";
  });
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the new password").fill(password);
  await page.getByRole("button", { name: "Set new password" }).click();
  await page.waitForFunction(() => (document.getElementById("form-error")?.textContent ?? "") !== "" || !document.querySelector('[data-state="success"]')?.hasAttribute("hidden"));
  return (await error.textContent()) ?? "";
}

const countedFailures = async (userId: string) =>
  (await server.server.app.store.readAggregate({ type: "user", id: userId })).filter((e) => e.type === UserEvents.passwordCodeCheckFailed).length;

describe("the hosted page with password rules", () => {
  it("lists the rules, refuses each broken one with its words, keeps the code, then succeeds", async () => {
    const { userId, link } = await resetLink({ historyCount: 2, rejectCommon: true, rejectBreached: true, rejectPersonalData: true, words: ["grommet"] });
    const { page, scripts, problems } = await open(link);
    const forbidden = await page.locator("#policy ul.forbidden li").allTextContents();
    expect(forbidden).toEqual([
      "be one of your last 2 passwords",
      "be a commonly used password",
      "contain a word your organization forbids",
      "be known from a data breach",
      "contain your name, username or email address",
    ]);
    // no strength asked: the estimator is not loaded
    expect(scripts.some((s) => s.endsWith("strength.js"))).toBe(false);
    expect(await page.locator("#strength").count()).toBe(0);

    expect(await submit(page, "P@ssw0rd123!")).toContain("a common password");
    expect(await submit(page, "Gr0mmet-Works-9")).toContain("forbidden word");
    expect(await submit(page, "Lovelace-Rules-1")).toContain("the user's name, username or email address");
    expect(await submit(page, FIRST)).toContain("last 2 passwords");
    expect(await page.getByLabel("New password", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await page.screenshot({ path: path.join(OUTPUT, "reset-page-rules.png"), fullPage: true });
    expect(await countedFailures(userId)).toBe(0);

    expect(await submit(page, STRONG)).toBe("");
    await page.locator('[data-state="success"]').waitFor({ state: "visible" });
    expect(problems.filter((p) => !p.includes("400") && !p.includes("Failed to load resource"))).toEqual([]);
    await page.close();
  });

  it("with a minimum strength, estimates while typing and refuses a weak password", async () => {
    const { link } = await resetLink({ minStrength: 3 });
    const { page, scripts } = await open(link);
    expect(scripts.some((s) => s.endsWith("/ui/login/assets/strength.js"))).toBe(true);
    const label = page.locator("#strength-label");
    await page.getByLabel("New password", { exact: true }).fill("monkey");
    await page.waitForFunction(() => document.getElementById("strength-label")?.textContent?.startsWith("Strength: 0 of 4"));
    expect(await label.textContent()).toContain("needs at least 3");
    expect(await page.locator("#strength").evaluate((m) => (m as HTMLMeterElement).value)).toBe(0);
    await page.getByLabel("New password", { exact: true }).fill(STRONG);
    await page.waitForFunction(() => document.getElementById("strength-label")?.textContent?.startsWith("Strength: 4 of 4"));
    await page.screenshot({ path: path.join(OUTPUT, "reset-page-strength.png"), fullPage: true });

    expect(await submit(page, "Summer2024!")).toContain("too easy to guess");
    expect(await submit(page, STRONG)).toBe("");
    await page.locator('[data-state="success"]').waitFor({ state: "visible" });
    await page.close();
  });
});
