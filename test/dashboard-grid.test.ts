// The map's lat/lon grid (ingest/dashboard/grid.js), without a browser: whatever the view (a
// canvas of 0 or 1 px, a huge one, a zoom deeper than a double can step through, no size at all),
// the grid has a bounded number of lines. A 0 px wide map once asked for a 1e-6 degree step and
// drew 1.7e8 latitude lines a frame, freezing the tab.
import t from 'tap';
import { gridLines, MAX_GRID_LINES, niceStep } from '../ingest/dashboard/grid.js';

t.test('niceStep: 1, 2 or 5 times a power of ten at or above; NaN for nothing to round', async (t) => {
  t.equal(niceStep(0.7), 1);
  t.equal(niceStep(1), 1);
  t.equal(niceStep(1.2), 2);
  t.equal(niceStep(3), 5);
  t.equal(niceStep(7), 10);
  t.equal(niceStep(0.0013), 0.002);
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    t.ok(Number.isNaN(niceStep(bad)), `niceStep(${bad}) is NaN`);
  }
});

/** Degrees seen by a map of w x h px at 52.5 N, `pxPerDeg` pixels per degree of longitude. */
function view(w: number, h: number, pxPerDeg = 5000) {
  const lonSpan = w / pxPerDeg;
  const latSpan = (h / pxPerDeg) * Math.cos((52.5 * Math.PI) / 180);
  return {
    west: 13.4 - lonSpan / 2,
    east: 13.4 + lonSpan / 2,
    south: 52.5 - latSpan / 2,
    north: 52.5 + latSpan / 2,
  };
}

t.test('a desktop map: about 7 lines across, on round values, inside the view', async (t) => {
  const v = view(1000, 520);
  const g = gridLines(v);
  t.equal(g.step, 0.05, 'the step the map always had: the longitude span / 7, rounded up');
  t.equal(g.decimals, 2);
  t.ok(g.lons.length >= 3 && g.lons.length <= 8, `${g.lons.length} longitude lines`);
  t.ok(g.lats.length >= 1 && g.lats.length <= 8, `${g.lats.length} latitude lines`);
  for (const lon of g.lons) t.ok(lon >= v.west && lon <= v.east);
  for (const lat of g.lats) t.ok(lat >= v.south && lat <= v.north);
  t.same(
    g.lons.map((x) => Number(x.toFixed(2))),
    g.lons.map((x) => Math.round(x / 0.05) * 0.05).map((x) => Number(x.toFixed(2))),
    'multiples of the step',
  );
});

t.test('any canvas size gives a bounded grid, never a freeze', async (t) => {
  const cases: [string, { west: number; east: number; south: number; north: number }][] = [
    ['0 px wide, 400 px high (the narrow-screen freeze)', view(0, 400)],
    ['1 px wide, 800 px high', view(1, 800)],
    ['800 px wide, 1 px high', view(800, 1)],
    ['0 x 0 px', view(0, 0)],
    ['1 x 1 px', view(1, 1)],
    ['a huge canvas zoomed out: 100,000 px at 0.01 px a degree', view(100_000, 100_000, 0.01)],
    ['a zoom below what a double can step through', view(1000, 800, 1e16)],
    [
      'the old freeze itself: no longitude span, the whole default view of latitudes',
      {
        west: 0,
        east: 0,
        south: -60,
        north: 60,
      },
    ],
  ];
  for (const [name, v] of cases) {
    const started = performance.now();
    const g = gridLines(v);
    const ms = performance.now() - started;
    const n = g.lons.length + g.lats.length;
    t.ok(n <= 2 * MAX_GRID_LINES, `${name}: ${n} lines (step ${g.step})`);
    t.ok(ms < 50, `${name}: computed in ${ms.toFixed(2)} ms`);
    t.ok(g.decimals >= 0 && g.decimals <= 20, `${name}: ${g.decimals} decimals fit toFixed`);
  }
  t.ok(MAX_GRID_LINES <= 100, 'a few hundred iterations at most');
  t.ok(
    gridLines(view(0, 400)).lats.length <= 8,
    'a tall narrow map gets a few latitude lines, not thousands',
  );
});

t.test('a view without a size or with NaN / infinite edges has no lines', async (t) => {
  const nan = Number.NaN;
  const inf = Number.POSITIVE_INFINITY;
  for (const v of [
    { west: nan, east: nan, south: nan, north: nan },
    { west: 13, east: 13, south: 52, north: 52 },
    { west: -inf, east: inf, south: 52, north: 53 },
    { west: 13, east: 12, south: 52, north: 53 },
    { west: 13, east: 14, south: nan, north: 53 },
  ]) {
    const g = gridLines(v);
    t.same({ lons: g.lons, lats: g.lats }, { lons: [], lats: [] }, JSON.stringify(v));
  }
});
