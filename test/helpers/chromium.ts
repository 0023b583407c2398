import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type BrowserContextOptions } from 'playwright-core';

// Debian's chromium (CI installs the package, .ci/run) with the flags the demo uses too: one definition.
import { CHROMIUM, CHROMIUM_ARGS as ARGS } from '../../deploy/demo/customerBrowser.js';
export { CHROMIUM };

/** Why browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is absent (apt-get install chromium); the browser tests skip`;
}

/**
 * A real Chromium with a fresh profile of its own (a new user-data-dir,
 * removed on close): no cookies or cache from another test. `options` are
 * the context's (javaScriptEnabled, timezoneId, …).
 */
export async function launchChromium(options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'cordon-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, ...options });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
