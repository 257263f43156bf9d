// The ops dashboard on a phone-sized window in real headless Chromium. The page once had only the
// desktop layout (map beside a 420 px side panel): below ~452 px the map's canvas got no width,
// its lat/lon grid a step of 1e-6 degrees and some 1.7e8 lines a frame, and the tab froze. Now the
// map stacks above the side panel on a narrow screen, and the grid is bounded whatever the size.
import type { Page } from 'playwright-core';
import t from 'tap';
import { openDashboard } from './helpers/dashboard-browser.js';
import { fix, TOKEN } from './helpers/ingest-web.js';

type MapState = {
  dirty: boolean;
  size: { w: number; h: number };
  markers: Map<string, unknown>;
  markerScreenPos(id: string): { x: number; y: number } | null;
};

/**
 * Evaluates in the page, failing instead of waiting forever when the page does not answer (a
 * frozen tab never answers, and playwright's evaluate has no timeout of its own).
 */
async function promptly<T>(page: Page, fn: () => T, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the page did not answer within ${ms} ms (frozen)`)), ms);
  });
  try {
    return await Promise.race([page.evaluate(fn), late]);
  } finally {
    clearTimeout(timer);
  }
}

for (const width of [420, 320]) {
  t.test(
    `a ${width} px wide window: the page answers, the map has a size, markers and rows show`,
    async (t) => {
      const { f, srv, browser } = await openDashboard(t);
      const now = Date.now();
      const fixes = [
        fix('rider-a', 1, { time: now - 2000, lat: 52.52, lon: 13.4 }),
        fix('rider-b', 1, { time: now - 2000, lat: 52.53, lon: 13.42 }),
      ];
      await f.store.writeFixes(fixes);
      const page = await browser.newPage({ viewport: { width, height: 740 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // Not waiting for 'load': a frozen page may never fire it; the checks below say what is wrong.
      await page.goto(`${srv.url}/?token=${TOKEN}`, { waitUntil: 'commit' });
      // A frame or two without markers (the grid at the default view), then with them.
      await new Promise((r) => setTimeout(r, 1000));
      t.equal(await promptly(page, () => document.readyState !== 'loading'), true, 'the page answers');
      await f.live.handleBatch(fixes);
      // The page keeps answering while it draws the fleet (each call below must come back promptly).
      let state:
        | { w: number; h: number; markers: number; onCanvas: number; rows: number; drawn: boolean }
        | undefined;
      for (let i = 0; i < 100; i++) {
        state = await promptly(page, () => {
          const map = (window as unknown as { fleetDashboard?: { map: MapState } }).fleetDashboard?.map;
          const c = document.getElementById('map') as HTMLCanvasElement;
          const r = c.getBoundingClientRect();
          const ids = map ? [...map.markers.keys()] : [];
          const onCanvas = ids.filter((id) => {
            const p = map!.markerScreenPos(id);
            return p && p.x >= 0 && p.x <= r.width && p.y >= 0 && p.y <= r.height;
          }).length;
          return {
            w: r.width,
            h: r.height,
            markers: ids.length,
            onCanvas,
            rows: document.querySelectorAll('#devices tbody tr').length,
            drawn: map ? !map.dirty : false,
          };
        });
        if (state.markers === 2 && state.rows === 2 && state.onCanvas === 2 && state.drawn) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      t.ok(state, 'the page was asked');
      const s = state!;
      t.ok(s.w >= width * 0.8, `the map uses the window's width (${s.w} of ${width} px)`);
      t.ok(s.h >= 200, `the map has a usable height (${s.h} px)`);
      t.equal(s.markers, 2, 'both riders have a marker');
      t.equal(s.onCanvas, 2, 'both markers are inside the canvas');
      t.equal(s.rows, 2, 'both riders have a row in the devices table');
      // Painted, not only placed: the marker's pixel is green (fresh), read between frames.
      const pixel = await promptly(page, () => {
        const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
        if (map.dirty) (map as unknown as { draw(): void }).draw();
        const p = map.markerScreenPos('rider-a')!;
        const c = document.getElementById('map') as HTMLCanvasElement;
        const dpr = window.devicePixelRatio || 1;
        return [...c.getContext('2d')!.getImageData(Math.round(p.x * dpr), Math.round(p.y * dpr), 1, 1).data];
      });
      t.ok(pixel[1]! > 150 && pixel[0]! < 120, `rider-a's marker is drawn (${pixel.join(',')})`);
      // Nothing sticks out sideways but the devices table, which scrolls in its own panel.
      const overflow = await promptly(page, () => document.documentElement.scrollWidth - window.innerWidth);
      t.ok(overflow <= 0, `the page does not scroll sideways (${overflow} px too wide)`);
      if (process.env['DASHBOARD_SCREENSHOT_NARROW']) {
        await page.screenshot({
          path: `${process.env['DASHBOARD_SCREENSHOT_NARROW']}-${width}.png`,
          fullPage: true,
        });
      }
      t.same(errors, []);
    },
  );
}
