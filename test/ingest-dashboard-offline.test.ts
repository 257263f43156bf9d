// Online or offline in the ops dashboard, in real headless Chromium: a rider the server has not
// heard from for longer than the offline threshold is offline in the table, in the KPIs and on the
// map as soon as the page opens, as /api/devices says, whatever the skew between the server's
// clock and the browser's. The page once took the stream's replay of every device's newest
// position on (re)connect as "heard just now", so quiet riders showed online for two minutes
// after each page load, while the map (which ignored the skew) could grey out live ones.
import type { Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { LiveView } from '../ingest/live/live-view.js';
import { openDashboard } from './helpers/dashboard-browser.js';
import { AUTH, fix, TOKEN } from './helpers/ingest-web.js';

const MIN = 60_000;

/**
 * The ingest HTTP server whose clock runs `skewMs` off the test's (and the browser's), with a
 * live view on that clock shifted by `liveLagMs` more (when the fixes fed to it were heard), and
 * a headless Chromium; all closed after the test.
 */
async function openSkewed(t: Test, skewMs: number) {
  const clock = { liveLagMs: 0 };
  const live = new LiveView(() => Date.now() + skewMs - clock.liveLagMs);
  const { srv, browser } = await openDashboard(t, {
    live,
    now: () => Date.now() + skewMs,
    offlineAfterMs: 2 * MIN,
  });
  return { live, clock, srv, browser };
}

type Rgb = [number, number, number];
const near = (rgb: number[], want: Rgb) => want.every((v, i) => Math.abs(rgb[i]! - v) <= 24);
const GREY: Rgb = [0x6e, 0x7b, 0x88];
const GREEN: Rgb = [0x3f, 0xb9, 0x50];
const AMBER: Rgb = [0xd2, 0x99, 0x22];
/** The dashboard's FRESH_MS: heard from within this long, a marker is green; then amber till offline. */
const FRESH_MS = 15_000;

/** The colour of a device's marker, read from the canvas between frames. */
function markerRgb(page: Page, id: string) {
  return page.evaluate((id) => {
    type MapState = { dirty: boolean; draw(): void; markerScreenPos(id: string): { x: number; y: number } };
    const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
    if (map.dirty) map.draw();
    const p = map.markerScreenPos(id);
    const c = document.getElementById('map') as HTMLCanvasElement;
    const dpr = window.devicePixelRatio || 1;
    return [...c.getContext('2d')!.getImageData(Math.round(p.x * dpr), Math.round(p.y * dpr), 1, 1).data];
  }, id);
}

for (const [name, skewMs] of [
  ['the same clock as the browser', 0],
  ['a server clock 10 min behind the browser', -10 * MIN],
  ['a server clock 10 min ahead of the browser', 10 * MIN],
] as const) {
  t.test(`a rider quiet for 10 min is offline everywhere at page load; ${name}`, async (t) => {
    const { live, clock, srv, browser } = await openSkewed(t, skewMs);
    const now = Date.now() + skewMs;
    // Heard from 10 min ago (server clock), e.g. its producer stopped; about a kilometre apart.
    clock.liveLagMs = 10 * MIN;
    await live.handleBatch([fix('rider-gone', 7, { time: now - 10 * MIN, lat: 52.52, lon: 13.4, speed: 0 })]);
    clock.liveLagMs = 5000;
    await live.handleBatch([fix('rider-here', 9, { time: now - 5000, lat: 52.527, lon: 13.41, speed: 0 })]);
    clock.liveLagMs = 0;

    // What the server says.
    const api = (await (await fetch(`${srv.url}/api/devices`, { headers: AUTH })).json()) as {
      devices: { deviceId: string; status: string }[];
    };
    const status = Object.fromEntries(api.devices.map((d) => [d.deviceId, d.status]));
    t.same(status, { 'rider-gone': 'offline', 'rider-here': 'online' }, '/api/devices');

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv.url}/?token=${TOKEN}`);
    // Both riders known from the stream and from /api/devices (its note says so), the stream live.
    await page.waitForFunction(() => {
      const d = (window as unknown as { fleetDashboard: { map: { markers: Map<string, unknown> } } })
        .fleetDashboard;
      return (
        d.map.markers.size === 2 &&
        document.querySelectorAll('#devices tbody tr').length === 2 &&
        /offline after 120 s/.test(document.getElementById('devices-note')?.textContent ?? '') &&
        document.getElementById('stream-state')?.textContent === 'live' &&
        document.getElementById('online-count')?.textContent !== '–'
      );
    });
    // A repaint of the table and the KPIs after all that (they repaint every second).
    await new Promise((r) => setTimeout(r, 1300));
    const pill = (id: string) => page.locator(`tr[data-device="${id}"] td.status`).textContent();
    t.equal(await pill('rider-gone'), 'offline', 'the quiet rider is offline in the table');
    t.equal(await pill('rider-here'), 'online', 'the live rider is online in the table');
    t.equal(await page.locator('#online-count').textContent(), '1', 'online KPI');
    t.equal(await page.locator('#offline-count').textContent(), '1', 'offline KPI');
    t.match(await page.locator('#devices-note').textContent(), /1 need attention/);
    // Fix ages on the server's clock: a browser 10 min off showed the live rider's fix 10 min old.
    const age = await page.locator('tr[data-device="rider-here"] td.age').textContent();
    t.match(age, /^\d+ s ago$/, `the live rider's last fix is seconds old (${age})`);
    // The p50 is the live rider's fix, 5 s old when fed; the page gets here seconds later, more on a
    // loaded machine (10.3 s seen, which one digit refused). Bounded by the time that has passed
    // since (the page's skew estimate may add up to half its /api/devices round trip), far below
    // the ten minutes a wrong skew would add.
    const p50 = (await page.locator('#fix-age').textContent()) ?? '';
    t.match(p50, /^\d+\.\d s$/, 'fix age p50 in seconds');
    const sinceS = (Date.now() + skewMs - now) / 1000;
    t.ok(
      Number.parseFloat(p50) >= 4.9 && Number.parseFloat(p50) <= 5 + 2 * sinceS + 1,
      `fix age p50 ${p50}: the live rider's 5 s, plus the ${sinceS.toFixed(1)} s since`,
    );
    const gone = await markerRgb(page, 'rider-gone');
    t.ok(near(gone, GREY), `the quiet rider's marker is grey (${gone.join(',')})`);
    const here = await markerRgb(page, 'rider-here');
    // Heard 5 s before it was fed: green for 10 s more, then amber while online. A map that ignored
    // the skew drew it 10 min old: grey. On a loaded machine the page is read more than 10 s after
    // the feed (amber seen), so green is required only while it is surely due.
    const heardMs = 5000 + Date.now() + skewMs - now;
    t.ok(
      near(here, GREEN) || (heardMs >= FRESH_MS && near(here, AMBER)),
      `the live rider's marker is green, or amber once heard ${FRESH_MS / 1000} s ago (${here.join(',')}, heard ${(heardMs / 1000).toFixed(1)} s ago)`,
    );

    // A new fix of the quiet rider: online again, in the table and on the map.
    await live.handleBatch([fix('rider-gone', 8, { time: now, lat: 52.52, lon: 13.4, speed: 0 })]);
    await page.waitForFunction(
      () =>
        document.querySelector('tr[data-device="rider-gone"] td.status')?.textContent === 'online' &&
        document.getElementById('online-count')?.textContent === '2',
    );
    const back = await markerRgb(page, 'rider-gone');
    t.ok(near(back, GREEN), `heard from again, its marker is green (${back.join(',')})`);
    t.same(errors, []);
  });
}
