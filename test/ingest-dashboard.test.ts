// The ops dashboard in real headless Chromium: log in with ?token=, see the devices table with
// gap indicators, watch a simulated rider's marker move while fixes are fed into the live view,
// and see the consumer lag and DLQ count from the metrics. DASHBOARD_SCREENSHOT=path saves a PNG.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { openDashboard } from './helpers/dashboard-browser.js';
import { fix, TOKEN } from './helpers/ingest-web.js';

t.test('dashboard shows the fleet moving, gaps, lag and DLQ', async (t) => {
  const { f, srv, browser } = await openDashboard(t, { offlineAfterMs: 60_000, dlqTopic: 'fleet.fixes.dlq' });
  const now = Date.now();
  // A parked rider with a lost, a pending and a rejected seq, plus the rider we will move.
  await f.store.writeFixes([
    fix('rider-parked', 1, { time: now - 30_000, lat: 52.515, lon: 13.39, speed: 0 }),
    fix('rider-parked', 5, { time: now - 26_000, lat: 52.515, lon: 13.39, speed: 0, droppedThrough: 2 }),
    fix('rider-moving', 1, { time: now - 5000, lat: 52.52, lon: 13.4 }),
  ]);
  // Seq 4 reached the cloud and was refused (dead-lettered): a gap of its own kind.
  await f.store.writeRejected([{ deviceId: 'rider-parked', seq: 4, reason: 'lat 95 is outside -90..90' }]);
  // A receiver whose clock is years off: every fix refused, none stored, listed all the same.
  const offBy20y = 'future time 2046-03-01T00:00:00.000Z: 170000.0 h ahead';
  await f.store.writeRejected([{ deviceId: 'rider-clock-off', seq: 2, reason: offBy20y }]);
  await f.live.handleBatch([
    fix('rider-parked', 5, { time: now - 26_000, lat: 52.515, lon: 13.39, speed: 0 }),
    // Known to the live view only (as under --groups live): no gap figures exist for it. Older
    // than the parked rider's fix, so the median fix age below stays the parked one's.
    fix('rider-unstored', 3, { time: now - 40_000, lat: 52.518, lon: 13.395, speed: 0 }),
  ]);
  const m = f.metrics;
  m.consumedFixes.inc({ group: 'fix-store' }, 500);
  m.consumedFixes.inc({ group: 'live' }, 500);
  m.consumerLag.set({ group: 'fix-store', topic: 'gps.fixes', partition: '0' }, 1234);
  m.consumerLag.set({ group: 'live', topic: 'gps.fixes', partition: '0' }, 7);
  m.dlqRecords.inc({ group: 'fix-store', reason: 'decode' }, 3);

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));

  await page.goto(`${srv.url}/?token=${TOKEN}`);
  t.equal(new URL(page.url()).search, '', 'the token is gone from the address bar');

  // Devices table from the database, with pending, lost and rejected seqs told apart.
  const parked = page.locator('tr[data-device="rider-parked"]');
  await parked.waitFor();
  t.match(await parked.locator('td.gaps').textContent(), /1 pending.*1 lost.*1 rejected/);
  t.match(
    await parked.locator('td.gaps').getAttribute('title'),
    /2 lost\n3 pending\n4 rejected/,
    'each range named on hover',
  );
  t.match(await parked.locator('td.status').textContent(), /online/);
  const clockOff = page.locator('tr[data-device="rider-clock-off"]');
  t.equal(await clockOff.locator('td.pos').textContent(), 'no valid fix', 'no position, and no crash');
  t.equal(await clockOff.locator('td.pos').getAttribute('title'), `refused: ${offBy20y}`, 'why, on hover');
  t.match(await clockOff.locator('td.gaps').textContent(), /1 pending.*1 rejected/);
  t.match(await clockOff.locator('td.gaps').getAttribute('title'), /last refused: seq 2, future time 2046/);
  t.equal(await clockOff.locator('td.seq').textContent(), '2');

  // Lag and DLQ from the metrics.
  await page.locator('#groups tr[data-group="fix-store"] td.lag').waitFor();
  t.equal(await page.locator('#groups tr[data-group="fix-store"] td.lag').textContent(), '1234');
  t.equal(await page.locator('#groups tr[data-group="live"] td.lag').textContent(), '7');
  await page.waitForFunction(() => document.getElementById('dlq-count')?.textContent === '3');
  t.ok(await page.locator('#dlq-kpi.alert').count(), 'a non-zero DLQ is highlighted');
  // Named after KAFKA_TOPIC: the page used to say gps.fixes.dlq whatever the topic was.
  t.match(
    await page.locator('#dlq-label').getAttribute('title'),
    /the fleet\.fixes\.dlq topic keeps them all/,
    "the DLQ label names the server's DLQ topic",
  );

  // Feed a simulated rider into the live view while the page is open; the marker must move.
  const pos = () =>
    page.evaluate(() => {
      const d = (window as unknown as { fleetDashboard: { map: { markerScreenPos(id: string): unknown } } })
        .fleetDashboard;
      return d.map.markerScreenPos('rider-moving') as { x: number; y: number } | null;
    });
  let seq = 1;
  const step = async () => {
    seq++;
    await f.live.handleBatch([
      fix('rider-moving', seq, {
        time: now + seq * 1000,
        lat: 52.52 + seq * 0.00004,
        lon: 13.4 + seq * 0.00006,
      }),
    ]);
  };
  await step();
  await page.waitForFunction(() => {
    const d = (window as unknown as { fleetDashboard: { map: { markers: Map<string, unknown> } } })
      .fleetDashboard;
    return d.map.markers.has('rider-moving');
  });
  const before = await pos();
  t.ok(before, 'the rider has a marker');
  for (let i = 0; i < 5; i++) {
    await step();
    await new Promise((r) => setTimeout(r, 150));
  }
  await page.waitForFunction((s) => {
    const d = (window as unknown as { fleetDashboard: { map: { markers: Map<string, { seq: number }> } } })
      .fleetDashboard;
    return d.map.markers.get('rider-moving')?.seq === s;
  }, seq);
  const after = await pos();
  t.ok(
    after && before && Math.hypot(after.x - before.x, after.y - before.y) > 5,
    `the marker moved on the map (${JSON.stringify([before, after])})`,
  );
  t.ok(after && before && after.x > before.x && after.y < before.y, 'north-east is up and to the right');

  // The canvas really has the marker drawn where the map says it is (green = fresh).
  const pixel = await page.evaluate(({ x, y }) => {
    const c = document.getElementById('map') as HTMLCanvasElement;
    const dpr = window.devicePixelRatio || 1;
    return [...c.getContext('2d')!.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data];
  }, after!);
  t.ok(pixel[1]! > 150 && pixel[0]! < 120, `marker pixel is green (${pixel.join(',')})`);

  // The table followed the live stream too.
  const moving = page.locator('tr[data-device="rider-moving"] td.pos');
  await page.waitForFunction(
    (want) => document.querySelector('tr[data-device="rider-moving"] td.pos')?.textContent?.startsWith(want),
    (52.52 + seq * 0.00004).toFixed(5),
  );
  t.match(await moving.textContent(), /^52\.52/);
  await page.waitForFunction(() => document.getElementById('stream-state')?.textContent === 'live');
  await page.waitForFunction(
    () => document.querySelector('tr[data-device="rider-unstored"] td.gaps')?.textContent === 'not stored',
  );
  t.equal(
    await page.locator('tr[data-device="rider-parked"] td.gaps .badge').count(),
    3,
    'a stored device keeps its gap badges',
  );
  // Fix age: the parked rider's fix was 26 s old at the start, the moving one's is newer; the median
  // of two is the older. On a loaded machine the page may get here long after the start, so the
  // bound is what has passed since (plus the page's refresh period), not a fixed window.
  const ageText = (await page.locator('#fix-age').textContent()) ?? '';
  t.match(ageText, /^\d+\.\d s$/);
  const age = Number.parseFloat(ageText);
  t.ok(age >= 25.9 && age <= 26 + (Date.now() - now) / 1000 + 2, `fix age ${ageText} is the parked rider's`);

  if (process.env['DASHBOARD_SCREENSHOT']) {
    await page.screenshot({ path: process.env['DASHBOARD_SCREENSHOT'] });
  }

  // Clicking a row shows that device's last hour from the database (GET .../track).
  await page.click('tr[data-device="rider-parked"]');
  await page.locator('#track-note:not([hidden])').waitFor();
  t.equal(await page.locator('#track-note').textContent(), 'rider-parked: 2 fixes in the last hour');
  const trackLength = await page.evaluate(
    () =>
      (window as unknown as { fleetDashboard: { map: { track: { pts: unknown[] } } } }).fleetDashboard.map
        .track.pts.length,
  );
  t.equal(trackLength, 2);
  t.ok(await page.locator('tr.selected[data-device="rider-parked"]').count(), 'the row is highlighted');
  if (process.env['DASHBOARD_SCREENSHOT_TRACK']) {
    await page.screenshot({ path: process.env['DASHBOARD_SCREENSHOT_TRACK'] });
  }
  await page.click('tr[data-device="rider-parked"]');
  await page.locator('#track-note[hidden]').waitFor({ state: 'attached' });
  t.equal(await page.locator('tr.selected').count(), 0, 'a second click clears it');

  // Clicking a rider's marker on the map does the same as clicking its row.
  const clickMarker = async (id: string) => {
    const p = await page.evaluate(
      (id) =>
        (
          window as unknown as {
            fleetDashboard: { map: { markerScreenPos(id: string): { x: number; y: number } } };
          }
        ).fleetDashboard.map.markerScreenPos(id),
      id,
    );
    const c = (await page.locator('#map').boundingBox())!;
    await page.mouse.click(c.x + p.x, c.y + p.y);
  };
  await clickMarker('rider-parked');
  await page.locator('#track-note:not([hidden])').waitFor();
  t.equal(await page.locator('#track-note').textContent(), 'rider-parked: 2 fixes in the last hour');
  t.ok(await page.locator('tr.selected[data-device="rider-parked"]').count(), 'its row is highlighted');
  await clickMarker('rider-parked');
  await page.locator('#track-note[hidden]').waitFor({ state: 'attached' });
  t.equal(await page.locator('tr.selected').count(), 0, 'a second click on the marker clears it');
  // A drag that starts on a marker pans the map and selects nothing.
  const start = await page.evaluate(() =>
    (
      window as unknown as {
        fleetDashboard: { map: { markerScreenPos(id: string): { x: number; y: number } } };
      }
    ).fleetDashboard.map.markerScreenPos('rider-parked'),
  );
  const c = (await page.locator('#map').boundingBox())!;
  await page.mouse.move(c.x + start.x, c.y + start.y);
  await page.mouse.down();
  await page.mouse.move(c.x + start.x + 60, c.y + start.y + 30, { steps: 5 });
  await page.mouse.up();
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await page.locator('tr.selected').count(), 0, 'a drag is not a click');
  t.ok(await page.locator('#track-note[hidden]').count(), 'no track shown after a drag');
  t.same(errors, [], 'no errors in the page');
  t.same(
    requests.filter((u) => !u.startsWith(srv.url)),
    [],
    'the page loads nothing from the internet',
  );
});

t.test(
  'a fleet of 2,000 riders streaming at 1 Hz: every marker, a bounded table, problems first',
  async (t) => {
    const { f, srv, browser } = await openDashboard(t);
    const n = 2000;
    const now = Date.now();
    const wave = (seq: number) =>
      Array.from({ length: n }, (_, i) =>
        fix(`r${String(i).padStart(4, '0')}`, seq, {
          time: now + seq * 1000,
          lat: 52.4 + (i % 50) * 0.004 + seq * 0.00002,
          lon: 13.2 + Math.floor(i / 50) * 0.006,
        }),
      );
    await f.store.writeFixes(wave(1));
    // One rider with a gap: it must head the table although its id sorts last.
    await f.store.writeFixes([fix('r1999', 3, { time: now + 500, lat: 52.5, lon: 13.3 })]);
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv.url}/?token=${TOKEN}`);
    for (let seq = 1; seq <= 5; seq++) {
      await f.live.handleBatch(wave(seq));
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.waitForFunction((want) => {
      const d = (window as unknown as { fleetDashboard: { map: { markers: Map<string, { seq: number }> } } })
        .fleetDashboard;
      return d.map.markers.size === want && [...d.map.markers.values()].every((m) => m.seq === 5);
    }, n);
    await page.waitForFunction(() =>
      /^2000 devices · 1 need attention/.test(document.getElementById('devices-note')?.textContent ?? ''),
    );
    const rowIds = () =>
      page.$$eval('#devices tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset['device']));
    const ids = await rowIds();
    t.equal(ids.length, 200, 'the table shows 200 rows, not 2000');
    t.equal(ids[0], 'r1999', 'the device with a gap comes first');
    t.same(ids.slice(1), [...ids.slice(1)].sort(), 'then by device id');
    t.match(await page.locator('#devices-note').textContent(), /showing 200 of 2000/);
    await page.waitForFunction(
      (want) => document.getElementById('online-count')?.textContent === want,
      String(n),
    );
    await page.fill('#device-filter', 'r123');
    t.same(await rowIds(), [
      'r1230',
      'r1231',
      'r1232',
      'r1233',
      'r1234',
      'r1235',
      'r1236',
      'r1237',
      'r1238',
      'r1239',
    ]);
    // Too many riders for names on the map: none, except the one under the pointer.
    const labelIds = () =>
      page.evaluate(() =>
        (
          window as unknown as { fleetDashboard: { map: { labels: { id: string }[] } } }
        ).fleetDashboard.map.labels.map((b) => b.id),
      );
    t.same(await labelIds(), [], 'no names on a 2,000-rider map');
    const p = await page.evaluate(() =>
      (
        window as unknown as {
          fleetDashboard: { map: { markerScreenPos(id: string): { x: number; y: number } } };
        }
      ).fleetDashboard.map.markerScreenPos('r0777'),
    );
    const box = (await page.locator('#map').boundingBox())!;
    await page.mouse.move(box.x + p.x, box.y + p.y);
    await page.waitForFunction(
      () =>
        (window as unknown as { fleetDashboard: { map: { labels: unknown[] } } }).fleetDashboard.map.labels
          .length > 0,
    );
    t.same(await labelIds(), ['r0777'], 'the hovered rider is named');
    if (process.env['DASHBOARD_SCREENSHOT_FLEET']) {
      await page.screenshot({ path: process.env['DASHBOARD_SCREENSHOT_FLEET'] });
    }
    t.same(errors, []);
  },
);

t.test('with a tile URL the map draws tiles from it under the markers', async (t) => {
  // A local tile server: 256x256 would do, a 1x1 PNG scaled up is enough to see it drawn.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
    'base64',
  );
  const tileRequests: string[] = [];
  const tiles = http.createServer((req, res) => {
    tileRequests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(png);
  });
  await new Promise<void>((r) => tiles.listen(0, '127.0.0.1', r));
  const tilePort = (tiles.address() as AddressInfo).port;
  const { f, srv, browser } = await openDashboard(t, {
    tileUrl: `http://127.0.0.1:${tilePort}/{z}/{x}/{y}.png`,
  });
  t.teardown(async () => {
    await new Promise((r) => tiles.close(r));
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Log in through the form this time.
  await page.goto(`${srv.url}/`);
  t.equal(new URL(page.url()).pathname, '/login', 'no session: the login page');
  await page.fill('#token', 'not-the-token');
  await page.click('button[type=submit]');
  t.match(await page.locator('.error').textContent(), /not valid/);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL(`${srv.url}/`);
  await f.live.handleBatch([fix('tile-rider', 1, { lat: 52.52, lon: 13.405 })]);
  await page.waitForFunction(() => {
    const d = (window as unknown as { fleetDashboard: { map: { markers: Map<string, unknown> } } })
      .fleetDashboard;
    return d.map.markers.has('tile-rider');
  });
  // The tile holding the rider at the zoom the map chose must have been fetched.
  const z = await page.evaluate(() => {
    const d = (window as unknown as { fleetDashboard: { map: { view: { scale: number } } } }).fleetDashboard;
    return Math.max(0, Math.min(19, Math.round(Math.log2(d.map.view.scale / 256))));
  });
  const n = 2 ** z;
  const x = Math.floor(((13.405 + 180) / 360) * n);
  const phi = (52.52 * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / Math.PI) / 2) * n);
  for (let i = 0; i < 100 && !tileRequests.includes(`/${z}/${x}/${y}.png`); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(
    tileRequests.includes(`/${z}/${x}/${y}.png`),
    `tile ${z}/${x}/${y} was requested (${tileRequests.length} tiles)`,
  );
  t.ok(z >= 12, `zoomed to street level (z=${z})`);
  t.same(errors, []);
});

t.test('riders bunched together: their names never overlap, and hovering one names it', async (t) => {
  const { f, srv, browser } = await openDashboard(t);
  // 30 riders waiting within ~40 m of a restaurant, one rider alone 2 km away.
  const cluster = Array.from({ length: 30 }, (_, i) =>
    fix(`sim-${String(i).padStart(4, '0')}`, 1, {
      lat: 52.52 + (i % 6) * 0.00006,
      lon: 13.4 + Math.floor(i / 6) * 0.0001,
      speed: 0,
    }),
  );
  await f.live.handleBatch([...cluster, fix('lone-rider', 1, { lat: 52.535, lon: 13.42, speed: 0 })]);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.url}/?token=${TOKEN}`);
  type Box = { id: string; x: number; y: number; w: number; h: number };
  type MapState = {
    labels: Box[];
    markers: Map<string, unknown>;
    markerScreenPos(id: string): { x: number; y: number };
  };
  const state = () =>
    page.evaluate(() => {
      const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
      return {
        labels: map.labels,
        pos: Object.fromEntries([...map.markers.keys()].map((id) => [id, map.markerScreenPos(id)])),
      };
    });
  await page.waitForFunction(() => {
    const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
    return map.markers.size === 31 && map.labels.length > 0;
  });
  const { labels, pos } = await state();
  const hit = (a: { x: number; y: number; w: number; h: number }, b: typeof a) =>
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  for (const [i, a] of labels.entries()) {
    for (const b of labels.slice(i + 1)) t.notOk(hit(a, b), `labels ${a.id} and ${b.id} do not overlap`);
    for (const [id, p] of Object.entries(pos)) {
      if (id !== a.id)
        t.notOk(hit(a, { x: p.x - 6, y: p.y - 6, w: 12, h: 12 }), `${a.id} leaves ${id} visible`);
    }
  }
  const named = new Set(labels.map((b) => b.id));
  t.ok(named.has('lone-rider'), 'the lone rider is named');
  t.ok(named.size > 1 && named.size < 31, `${named.size} of 31 riders named, the crowded rest left out`);
  // The lone rider's name is really painted inside its box (light text on the dark map).
  const lone = labels.find((b) => b.id === 'lone-rider')!;
  const brightest = await page.evaluate((b) => {
    const c = document.getElementById('map') as HTMLCanvasElement;
    const dpr = window.devicePixelRatio || 1;
    const d = c.getContext('2d')!.getImageData(b.x * dpr, b.y * dpr, b.w * dpr, b.h * dpr).data;
    let max = 0;
    for (let i = 0; i < d.length; i += 4) max = Math.max(max, d[i]! + d[i + 1]! + d[i + 2]!);
    return max / 3;
  }, lone);
  t.ok(brightest > 150, `text drawn in the lone rider's label box (brightest ${brightest.toFixed(0)})`);
  // Hover a rider whose name was left out: it is named now.
  const hidden = cluster.map((c) => c.deviceId).find((id) => !named.has(id))!;
  const canvas = (await page.locator('#map').boundingBox())!;
  await page.mouse.move(canvas.x + pos[hidden]!.x, canvas.y + pos[hidden]!.y);
  await page.waitForFunction((id) => {
    const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
    return map.labels.some((b) => b.id === id);
  }, hidden);
  t.pass(`hovering ${hidden} names it`);
  await page.mouse.move(canvas.x + 2, canvas.y + 2);
  await page.waitForFunction((id) => {
    const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
    return !map.labels.some((b) => b.id === id);
  }, hidden);
  t.pass('moving away leaves the crowded spot to its usual owner again');
  if (process.env['DASHBOARD_SCREENSHOT_CLUSTER']) {
    await page.screenshot({ path: process.env['DASHBOARD_SCREENSHOT_CLUSTER'] });
  }
  t.same(errors, []);
});

t.test('riders on one spot: one larger marker with their count, and clicks walk through them', async (t) => {
  const { f, srv, browser } = await openDashboard(t);
  // Three riders waiting at one restaurant door, one riding 1 km away.
  const now = Date.now();
  const fixes = [
    ...['pickup-c', 'pickup-a', 'pickup-b'].map((id) =>
      fix(id, 1, { time: now - 2000, lat: 52.52, lon: 13.4, speed: 0 }),
    ),
    fix('riding', 1, { time: now - 2000, lat: 52.527, lon: 13.41 }),
  ];
  await f.store.writeFixes(fixes);
  await f.live.handleBatch(fixes);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.url}/?token=${TOKEN}`);
  type Stack = { ids: string[]; top: string; x: number; y: number };
  type MapState = {
    stacks: Stack[];
    labels: { id: string; text: string }[];
    track: { id: string } | null;
    dirty: boolean;
    markerScreenPos(id: string): { x: number; y: number };
  };
  const mapState = () =>
    page.evaluate(() => {
      const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
      return {
        stacks: map.stacks,
        labels: map.labels.map((b) => b.text),
        riding: map.markerScreenPos('riding'),
      };
    });
  await page.waitForFunction(
    () => (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map.stacks.length === 2,
  );
  const { stacks, labels, riding } = await mapState();
  const stack = stacks.find((s) => s.ids.length > 1)!;
  t.same(stack.ids, ['pickup-a', 'pickup-b', 'pickup-c'], 'the three riders at the door are one stack');
  t.same(
    labels.sort(),
    ['pickup-a +2', 'riding'],
    'the stack is named once: its first rider and how many more',
  );
  // The stack's disc is larger than a lone rider's: 8 px right of its centre is still marker green
  // there, and background beside the lone rider.
  const rgbAt = (p: { x: number; y: number }) =>
    page.evaluate(({ x, y }) => {
      const c = document.getElementById('map') as HTMLCanvasElement;
      const dpr = window.devicePixelRatio || 1;
      return [...c.getContext('2d')!.getImageData(x * dpr, y * dpr, 1, 1).data];
    }, p);
  const green = (rgb: number[]) => rgb[1]! > 150 && rgb[0]! < 120;
  // 6.5 px out: inside the stack's 9 px disc, on the dark outline of a lone rider's 6 px one.
  const rim = await rgbAt({ x: stack.x + 6.5, y: stack.y });
  t.ok(green(rim), `the stack is drawn as a larger disc (${rim.join(',')})`);
  t.notOk(green(await rgbAt({ x: riding.x, y: riding.y - 6.5 })), 'a lone rider keeps the small one');
  // The count is written in the disc: dark pixels inside the green.
  const dark = await page.evaluate(({ x, y }) => {
    const c = document.getElementById('map') as HTMLCanvasElement;
    const dpr = window.devicePixelRatio || 1;
    const d = c.getContext('2d')!.getImageData((x - 4) * dpr, (y - 5) * dpr, 8 * dpr, 10 * dpr).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 1]! < 80) n++;
    return n;
  }, stack);
  t.ok(dark > 4, `a count is written inside the stack (${dark} dark pixels)`);

  // Each click on the stack selects its next rider (row highlighted, that rider on top and
  // named), and the click after the last clears the selection, as on a lone rider.
  const box = (await page.locator('#map').boundingBox())!;
  for (const want of ['pickup-a', 'pickup-b', 'pickup-c', null]) {
    // Where the stack is now: selecting a rider zooms the map to its track.
    const at = (await mapState()).stacks.find((s) => s.ids.length > 1)!;
    await page.mouse.click(box.x + at.x, box.y + at.y);
    if (want) {
      await page.locator(`tr.selected[data-device="${want}"]`).waitFor();
      await page.waitForFunction((id) => {
        const map = (window as unknown as { fleetDashboard: { map: MapState } }).fleetDashboard.map;
        // Its track loaded and drawn: the map has zoomed to it, so the stack has moved.
        return (
          map.track?.id === id &&
          !map.dirty &&
          map.stacks.some((s) => s.top === id) &&
          map.labels.some((b) => b.id === id && b.text === `${id} +2`)
        );
      }, want);
      t.pass(`click selects ${want}, shown on top and named with the count of the others`);
    } else {
      await page.locator('#track-note[hidden]').waitFor({ state: 'attached' });
      t.equal(await page.locator('tr.selected').count(), 0, 'the click after the last rider clears it');
    }
  }
  if (process.env['DASHBOARD_SCREENSHOT_STACK']) {
    await page.screenshot({ path: process.env['DASHBOARD_SCREENSHOT_STACK'] });
  }
  t.same(errors, []);
});
