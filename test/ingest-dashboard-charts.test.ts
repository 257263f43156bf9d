// The dashboard's lag and throughput charts across an ingest restart, in real headless Chromium:
// the consumed counters start again from zero in a restarted process (here: the same registry
// reset, what a new process has), which must not be plotted as a drop to 0 fixes/s, and while
// the server does not answer the lines break instead of running straight across the outage.
import t from 'tap';
import { openDashboard } from './helpers/dashboard-browser.js';
import { TOKEN } from './helpers/ingest-web.js';

type Point = { t: number; v: number; gap: boolean };
type Charts = { lag: { series: Map<string, Point[]> }; tput: { series: Map<string, Point[]> } };

t.test('throughput across a counter reset and an outage: no fake drop, broken lines', async (t) => {
  const { f, srv, browser } = await openDashboard(t);
  const m = f.metrics;
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${srv.url}/?token=${TOKEN}`);
  const points = (chart: 'lag' | 'tput') =>
    page.evaluate(
      (c) =>
        (window as unknown as { fleetDashboard: { charts: Charts } }).fleetDashboard.charts[c].series.get(
          'fix-store',
        ) ?? [],
      chart,
    );
  // Traffic: the counter grows between the page's polls (every 2 s).
  const feed = setInterval(() => m.consumedFixes.inc({ group: 'fix-store' }, 1000), 250);
  t.teardown(() => clearInterval(feed));
  await page.waitForFunction(
    () =>
      ((window as unknown as { fleetDashboard: { charts: Charts } }).fleetDashboard.charts.tput.series.get(
        'fix-store',
      )?.length ?? 0) >= 2,
    undefined,
    { timeout: 20_000 },
  );
  const before = (await points('tput')).length;
  t.ok(
    (await points('tput')).every((p) => p.v > 0),
    'fixes/s while fixes flow',
  );

  // The restart: the counter is back near zero, and the traffic goes on.
  m.consumedFixes.reset();
  await page.waitForFunction(
    (n) =>
      ((window as unknown as { fleetDashboard: { charts: Charts } }).fleetDashboard.charts.tput.series.get(
        'fix-store',
      )?.length ?? 0) >=
      n + 1,
    before,
    { timeout: 20_000 },
  );
  const after = await points('tput');
  t.ok(
    after.every((p) => p.v > 0),
    `no point at 0 fixes/s for the reset: ${after.map((p) => Math.round(p.v)).join(', ')}`,
  );
  t.equal(after[before]!.gap, true, 'the line breaks at the restart');

  // The server goes away: the next point after it is not joined to the last one before.
  clearInterval(feed);
  await srv.app.close();
  const lagBefore = (await points('lag')).length;
  await page.waitForTimeout(5000); // two polls fail
  t.equal((await points('lag')).length, lagBefore, 'no points while nothing answers');
  const broken = await page.evaluate(() => [
    ...((window as unknown as { fleetDashboard: { charts: { lag: { broken?: Set<string> } } } })
      .fleetDashboard.charts.lag.broken ?? []),
  ]);
  t.same(broken, ['fix-store'], 'the lag line will start afresh when the server answers');
  // The figures still shown are the last known ones, and look it (they used to look current).
  t.equal(await page.locator('#groups').getAttribute('class'), 'stale', 'the groups table is marked stale');
  t.match(
    await page.locator('#groups').getAttribute('title'),
    /last known figures \(as of .*\): the server does not answer/,
  );
  t.match(await page.locator('#dlq-kpi').getAttribute('class'), /stale/, 'and the DLQ count');
  // No poll answered for over 10 s: the page says so, whatever the stream's state (a frozen
  // server keeps its stream open and silent, and the page said 'live').
  await page.waitForFunction(
    () => /^no answer for \d+ s$/.test(document.getElementById('stream-state')?.textContent ?? ''),
    undefined,
    {
      timeout: 20_000,
    },
  );
  t.pass('Stream: no answer for N s');
  // The devices list's failure stays in its note (the note is repainted every second and the
  // message used to vanish within one).
  await page.waitForTimeout(1500);
  t.match(await page.locator('#devices-note').textContent(), /^could not load devices: /);
});

t.test('a lag not measured for a while is shown as stale, not as the lag now', async (t) => {
  const { f, srv, browser } = await openDashboard(t);
  const m = f.metrics;
  m.consumerLag.set({ group: 'fix-store', topic: 'gps.fixes', partition: '0' }, 0);
  m.lagUpdated.set({ group: 'fix-store' }, Date.now() / 1000);
  m.consumerLag.set({ group: 'live', topic: 'gps.fixes', partition: '0' }, 0);
  // The live group's last measure was two minutes ago: the broker has not answered since.
  m.lagUpdated.set({ group: 'live' }, Date.now() / 1000 - 120);

  const api = await fetch(`${srv.url}/api/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await api.json()) as { groups: { group: string; lag: number; lagAgeS: number | null }[] };
  const live = body.groups.find((g) => g.group === 'live')!;
  t.ok(
    live.lagAgeS! >= 119 && live.lagAgeS! <= 125,
    `/api/stats says how old the figure is: ${live.lagAgeS} s`,
  );
  t.ok(body.groups.find((g) => g.group === 'fix-store')!.lagAgeS! <= 5, 'and a fresh one is fresh');

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${srv.url}/?token=${TOKEN}`);
  const cell = page.locator('#groups tr[data-group="live"] td.lag');
  await cell.waitFor();
  t.equal(await cell.textContent(), '0?', 'the stale lag is marked');
  t.match(await cell.getAttribute('title'), /not measured for 1\d\d s/);
  t.equal(await cell.getAttribute('class'), 'num lag stale');
  const fresh = page.locator('#groups tr[data-group="fix-store"] td.lag');
  t.equal(await fresh.textContent(), '0', 'a fresh one is shown as it is');
  const lagPoints = await page.evaluate(() => {
    const charts = (
      window as unknown as { fleetDashboard: { charts: { lag: { series: Map<string, unknown[]> } } } }
    ).fleetDashboard.charts;
    return {
      live: charts.lag.series.get('live')?.length ?? 0,
      store: charts.lag.series.get('fix-store')?.length ?? 0,
    };
  });
  // One point per /api/stats poll (every 2 s): a page read later than 2 s after its first poll
  // has two (seen under load), so the fresh group's count is at least one, the stale one's none.
  t.equal(lagPoints.live, 0, 'the stale lag is not plotted');
  t.ok(lagPoints.store >= 1, `only the fresh lag is plotted (${lagPoints.store} points)`);
  // Said in the open too, not only in a tooltip: the riders would next turn offline.
  t.match(await page.locator('#groups-note').textContent(), /^Kafka has not answered for 1\d\d s: /);
  t.equal(await page.locator('#groups-note').isVisible(), true);
});
