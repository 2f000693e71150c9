/**
 * A headless Chromium for the tests of HTML pages (Debian's `/usr/bin/chromium`, or the binary
 * named by `TC_CHROMIUM`), driven by puppeteer-core.
 *
 * Without a browser, `launchBrowser()` throws when `TC_REQUIRE_CHROMIUM=1` (CI) and otherwise
 * prints a `note:` to stderr and returns undefined, so that the caller runs a reduced static check
 * instead (never a silent skip).
 */
import puppeteer, { type Browser } from "puppeteer-core";

/** How to install the browser the tests use. */
export const CHROMIUM_INSTALL = "sudo apt-get install chromium";

/**
 * The browser binary: `TC_CHROMIUM`, else `/usr/bin/chromium`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chromiumPath } from "./browser.ts";
 * chromiumPath(); // "/usr/bin/chromium" unless TC_CHROMIUM is set
 * assert.ok(chromiumPath().length > 0);
 * ```
 */
export function chromiumPath(): string {
  return Deno.env.get("TC_CHROMIUM") || "/usr/bin/chromium";
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Launches headless Chromium, or returns undefined (with a note on stderr) when it is missing and
 * `TC_REQUIRE_CHROMIUM` is not "1"; close it in a `finally` block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { launchBrowser } from "./browser.ts";
 * // In a test (the browser tests of tests/display/graph_viewer_test.ts):
 * //   const browser = await launchBrowser();
 * //   if (!browser) { ...static checks...; return; }
 * //   try { const page = await browser.newPage(); ... } finally { await browser.close(); }
 * assert.equal(typeof launchBrowser, "function");
 * ```
 */
export async function launchBrowser(): Promise<Browser | undefined> {
  const path = chromiumPath();
  if (!exists(path)) {
    const what = `no Chromium at ${path} (set TC_CHROMIUM to another binary, or install it: ` +
      `\`${CHROMIUM_INSTALL}\`)`;
    if (Deno.env.get("TC_REQUIRE_CHROMIUM") === "1") {
      throw new Error(`TC_REQUIRE_CHROMIUM=1 but ${what}`);
    }
    console.error(`note: ${what}; running the reduced static checks instead of the browser tests`);
    return undefined;
  }
  return await puppeteer.launch({
    executablePath: path,
    args: ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}
