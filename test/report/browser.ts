/**
 * A real browser for the report and dashboard tests: Debian's chromium, driven by playwright-core, with
 * a fresh profile in a temporary directory and nothing that phones home. Where chromium is missing the
 * tests are skipped with the reason and the fix (like test/webgpu without an adapter).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot, tempDir } from '../helpers.js';

export const CHROMIUM = '/usr/bin/chromium';

/** The `skip` option of a browser test. */
export const browserSkip: string | false = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does) to run the browser tests`;

/** Screenshots the tests save, to look at (ignored by git). */
export const ARTIFACTS = join(repoRoot, 'test-artifacts');

export async function openBrowser(): Promise<BrowserContext> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(tempDir('virnucpro-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** What a page did: every request it made, and every console error and uncaught exception. */
export interface PageWatch {
  requests: string[];
  errors: string[];
}

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { requests: [], errors: [] };
  page.on('request', (r) => watch.requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') watch.errors.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => watch.errors.push(`uncaught: ${e.message}`));
  return watch;
}
