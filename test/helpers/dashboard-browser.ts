// The dashboard tests' set-up: the ingest HTTP server on a fresh store (webFixture) and Debian's
// headless Chromium driven by playwright-core; both closed after the test.
import { chromium } from 'playwright-core';
import type { Test } from 'tap';
import { startHttpServer } from '../../ingest/http/server.js';
import { webFixture } from './ingest-web.js';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export async function openDashboard(t: Test, over: Parameters<typeof webFixture>[0] = {}) {
  const f = await webFixture(over);
  const srv = await startHttpServer(f.deps);
  const browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await srv.app.close();
    await f.cleanup();
  });
  return { f, srv, browser };
}
