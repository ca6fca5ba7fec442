import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { repoRoot } from '../helpers.ts';

/** Where `npm run screenshots` puts the pictures the docs show. */
export const SCREENSHOT_DIR = join(repoRoot, 'docs', 'screenshots');

/**
 * Saves docs/screenshots/<name>.png of the page (or one element of it) when DROPOPS_SCREENSHOTS=1, which
 * `npm run screenshots` sets; an ordinary test run takes none.
 */
export async function screenshot(page: Page, name: string, element?: Locator): Promise<void> {
  if (process.env.DROPOPS_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  if (element) await element.screenshot({ path, animations: 'disabled' });
  else await page.screenshot({ path, animations: 'disabled' });
}
