// The selected rider's track in real headless Chromium: the yellow line of its last hour (from the
// database) goes on with the live fixes that come after, so it keeps ending at the rider's marker
// instead of where the database's answer stopped.
import t from 'tap';
import { openDashboard } from './helpers/dashboard-browser.js';
import { fix, TOKEN } from './helpers/ingest-web.js';

type P = { x: number; y: number };
type MapState = {
  dirty: boolean;
  draw(): void;
  track: { id: string; pts: P[] } | null;
  markers: Map<string, { seq: number }>;
  toScreen(p: P): P;
  markerScreenPos(id: string): P;
};

t.test('the selected track is extended by its rider live fixes, up to the marker', async (t) => {
  const { f, srv, browser } = await openDashboard(t);
  const now = Date.now();
  // Ten stored fixes riding east, and a rider parked 1 km north.
  const stored = Array.from({ length: 10 }, (_, i) =>
    fix('rider', i + 1, { time: now - 60_000 + i * 1000, lat: 52.52, lon: 13.4 + i * 0.0002 }),
  );
  const other = fix('other', 1, { time: now - 1000, lat: 52.529, lon: 13.401, speed: 0 });
  await f.store.writeFixes([...stored, other]);
  await f.live.handleBatch([stored.at(-1)!, other]);

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.url}/?token=${TOKEN}`);
  await page.click('tr[data-device="rider"]');
  await page.locator('#track-note:not([hidden])').waitFor();
  t.equal(await page.locator('#track-note').textContent(), 'rider: 10 fixes in the last hour');

  const state = () =>
    page.evaluate(() => {
      const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
      const pts = map.track!.pts;
      return {
        n: pts.length,
        end: map.toScreen(pts.at(-1)!),
        marker: map.markerScreenPos('rider'),
      };
    });
  const s0 = await state();
  t.equal(s0.n, 10, 'the stored track');
  t.ok(Math.hypot(s0.end.x - s0.marker.x, s0.end.y - s0.marker.y) < 0.5, 'it ends at the marker');

  // The rider rides on north-east: three live fixes, 110 m apart; and the other rider moves too.
  let seq = 10;
  for (let i = 1; i <= 3; i++) {
    seq++;
    await f.live.handleBatch([
      fix('rider', seq, { time: now - 40_000 + i * 1000, lat: 52.52 + i * 0.001, lon: 13.4018 + i * 0.0005 }),
      fix('other', 1 + i, { time: now - 40_000 + i * 1000, lat: 52.529, lon: 13.401 + i * 0.0003 }),
    ]);
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.waitForFunction(
    (s) =>
      (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map.markers.get('rider')
        ?.seq === s,
    seq,
  );
  const s1 = await state();
  t.equal(s1.n, 13, 'the three live fixes of the rider, not the other rider, extend its track');
  t.ok(
    Math.hypot(s1.end.x - s1.marker.x, s1.end.y - s1.marker.y) < 0.5,
    `the track ends at the marker (${JSON.stringify([s1.end, s1.marker])})`,
  );
  // Drawn: halfway from where the stored track ended to the marker (the live fixes lie on that
  // line, the view has not moved since: a selected track turns auto-fit off) is the track's yellow.
  const rgb = await page.evaluate(
    ({ a, b }) => {
      const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
      if (map.dirty) map.draw();
      const c = document.getElementById('map') as HTMLCanvasElement;
      const dpr = window.devicePixelRatio || 1;
      const x = Math.round(((a.x + b.x) / 2) * dpr);
      const y = Math.round(((a.y + b.y) / 2) * dpr);
      return [...c.getContext('2d')!.getImageData(x, y, 1, 1).data];
    },
    { a: s0.end, b: s1.marker },
  );
  t.ok(
    Math.abs(rgb[0]! - 0xe3) < 30 && Math.abs(rgb[1]! - 0xb3) < 30 && Math.abs(rgb[2]! - 0x41) < 40,
    `the new segment is drawn in the track's yellow (${rgb.join(',')})`,
  );
  if (process.env['DASHBOARD_SCREENSHOT_TRACK_LIVE']) {
    await page.screenshot({ path: process.env['DASHBOARD_SCREENSHOT_TRACK_LIVE'] });
  }

  // Cleared and selected again: the stored track now holds those fixes, the marker adds none.
  await page.click('tr[data-device="rider"]');
  await page.locator('#track-note[hidden]').waitFor({ state: 'attached' });
  await f.store.writeFixes(
    [11, 12, 13].map((q, i) =>
      fix('rider', q, {
        time: now - 40_000 + (i + 1) * 1000,
        lat: 52.52 + (i + 1) * 0.001,
        lon: 13.4018 + (i + 1) * 0.0005,
      }),
    ),
  );
  await page.click('tr[data-device="rider"]');
  await page.locator('#track-note:not([hidden])').waitFor();
  t.equal(await page.locator('#track-note').textContent(), 'rider: 13 fixes in the last hour');
  t.equal((await state()).n, 13, 'no point twice');
  t.same(errors, []);
});

t.test('a rider last heard days ago: the hour up to its last fix, not an empty last hour', async (t) => {
  const { f, srv, browser } = await openDashboard(t);
  const last = Date.now() - 3 * 86_400_000 - 600_000;
  // Five fixes of a ride three days ago; and one from two hours before it, outside that hour.
  const old = [
    fix('away', 1, { time: last - 7_200_000, lat: 52.5, lon: 13.3 }),
    ...Array.from({ length: 5 }, (_, i) =>
      fix('away', i + 2, { time: last - (4 - i) * 60_000, lat: 52.52, lon: 13.4 + i * 0.0005 }),
    ),
  ];
  await f.store.writeFixes(old);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.url}/?token=${TOKEN}`);
  await page.click('tr[data-device="away"]');
  await page.locator('#track-note:not([hidden])').waitFor();
  t.equal(
    await page.locator('#track-note').textContent(),
    'away: 5 fixes in the hour up to its last fix, 3 d ago',
  );
  const n = await page.evaluate(
    () => (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map.track!.pts.length,
  );
  t.equal(n, 5, 'those five drawn');
  t.same(errors, []);
});
