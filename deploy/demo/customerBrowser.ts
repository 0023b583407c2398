import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's Chromium; the demo installs the package like its other tools. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Flags for a headless Chromium on a closed machine, as root: without the
 * background-networking ones it keeps dialling Google's hosts, which this
 * network refuses.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface PageAnswer {
  /** What the page said after the answer was sent (its main text, trimmed). */
  shown: string;
  /** The page's title after the answer. */
  title: string;
}

/**
 * Opens the customer page at `url` in a real headless Chromium, as the
 * customer would, and answers "fixed" with `description` through the page's
 * own form. Loaded lazily: playwright-core is needed by the demo only.
 */
export async function answerFixedOnPage(url: string, description: string): Promise<PageAnswer> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'cordon-demo-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    const opened = await page.goto(url);
    if (!opened?.ok()) throw new Error(`the customer page answered ${opened?.status() ?? 'nothing'} for the notice's link`);
    const form = page.locator('form:has(input[name="answer"][value="fixed"])');
    await form.locator('textarea[name="text"]').fill(description);
    await Promise.all([page.waitForNavigation(), form.locator('button[type="submit"]').click()]);
    return { shown: (await page.locator('body').innerText()).trim(), title: await page.title() };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
