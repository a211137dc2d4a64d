/** Debian's chromium, driven by playwright-core (no Playwright browser download), and where tests leave screenshots. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

export const TEST_OUTPUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../test-output");

export async function launchChromium(): Promise<Browser> {
  fs.mkdirSync(TEST_OUTPUT, { recursive: true });
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** One browser for the whole test file, launched before its first test and closed after its last. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error("the browser starts in beforeAll: use it inside a test or hook");
    return browser;
  };
}
