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
});
