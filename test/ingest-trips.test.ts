// Trip metrics: the arithmetic (pure) and the trips transaction against both store backends,
// including redelivery and out-of-order backlog, which must give the numbers of an in-order run.
import t from 'tap';
import { accumulate, haversineM, type TripDay, utcDay } from '../ingest/trips/accumulate.js';
import { addSeqs, hasSeq, MAX_RANGES } from '../ingest/trips/ranges.js';
import type { Fix } from '../shared/fix.js';
import { backends } from './helpers/ingest-backends.js';
import { prng } from './helpers/trips-memory.js';

const M_PER_DEG_LAT = 111_195; // on the 6371 km sphere

/** A drive north at `speed` m/s, one fix per second, starting at `start` ms. */
function drive(deviceId: string, firstSeq: number, n: number, start: number, speed = 10): Fix[] {
  return Array.from({ length: n }, (_, i) => ({
    deviceId,
    seq: firstSeq + i,
    time: start + i * 1000,
    lat: 48 + (i * speed) / M_PER_DEG_LAT,
    lon: 11,
    speed,
    hdop: 1,
    mode: 3 as const,
  }));
}

/** Parked: positions wander within ~4 m, receiver says ~0.1 m/s. */
function parked(deviceId: string, firstSeq: number, n: number, start: number): Fix[] {
  return Array.from({ length: n }, (_, i) => ({
    deviceId,
    seq: firstSeq + i,
    time: start + i * 1000,
    lat: 48 + (Math.sin(i * 1.7) * 4) / M_PER_DEG_LAT,
    lon: 11 + (Math.cos(i * 2.3) * 4) / (M_PER_DEG_LAT * Math.cos((48 * Math.PI) / 180)),
    speed: 0.1,
    hdop: 1.2,
    mode: 3 as const,
  }));
}

const DAY = Date.UTC(2026, 2, 1);
const close = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) <= eps * Math.max(1, Math.abs(b));

function fold(fixes: Fix[]): TripDay[] {
  const days = new Map<string, TripDay>();
  accumulate(fixes[0]!.deviceId, null, fixes, days);
  return [...days.values()];
}

t.test('seq ranges: membership, merging, bounded size', async (t) => {
  let r = addSeqs([], [5, 3, 4, 9, 1]);
  t.same(r, [
    [1, 1],
    [3, 5],
    [9, 9],
  ]);
  t.ok(hasSeq(r, 4) && hasSeq(r, 9) && !hasSeq(r, 2) && !hasSeq(r, 10));
  r = addSeqs(r, [2, 6, 7, 8]);
  t.same(r, [[1, 9]]);
  const many = addSeqs(
    [],
    Array.from({ length: MAX_RANGES + 10 }, (_, i) => i * 2),
  );
  t.equal(many.length, MAX_RANGES, 'the oldest ranges are merged beyond the cap');
  t.ok(hasSeq(many, (MAX_RANGES + 9) * 2) && !hasSeq(many, (MAX_RANGES + 8) * 2 + 1), 'recent gaps kept');
});

t.test('haversine: one degree of latitude', async (t) => {
  t.ok(close(haversineM(0, 0, 1, 0), M_PER_DEG_LAT, 1e-4));
  t.equal(haversineM(48, 11, 48, 11), 0);
});

t.test('moving: distance, moving time and max speed', async (t) => {
  const [d] = fold(drive('a', 1, 101, DAY + 3_600_000, 10));
  t.ok(close(d!.distanceM, 1000, 1e-3), `distance ${d!.distanceM} ~ 1000 m`);
  t.equal(d!.movingS, 100);
  t.equal(d!.maxSpeedMps, 10);
  t.equal(d!.fixes, 101);
});

t.test('parked jitter adds nothing; a parked spell inside a drive adds nothing', async (t) => {
  const [p] = fold(parked('p', 1, 600, DAY));
  t.equal(p!.distanceM, 0, 'ten minutes parked: 0 m');
  t.equal(p!.movingS, 0);
  const first = drive('p', 1, 51, DAY, 10);
  const last = first[50]!;
  const stop = parked('p', 52, 300, last.time + 1000).map((f) => ({
    ...f,
    lat: last.lat + (f.lat - 48),
    lon: last.lon + (f.lon - 11),
  }));
  const [d] = fold([...first, ...stop]);
  t.ok(close(d!.distanceM, 500, 1e-3), `drive then park: ${d!.distanceM} ~ 500 m`);
  t.equal(d!.movingS, 50);
});

t.test('without reported speed, a move beyond the hdop radius counts', async (t) => {
  const fixes = drive('n', 1, 11, DAY, 20).map(({ speed: _s, ...f }) => f);
  const [d] = fold(fixes);
  t.ok(close(d!.distanceM, 200, 1e-3), `${d!.distanceM} ~ 200 m`);
  t.equal(d!.maxSpeedMps, 0, 'no speed reported, none invented');
});

t.test('a wild fix (50 km off, 655 m/s) adds no distance and no max speed', async (t) => {
  const fixes = drive('w', 1, 101, DAY + 3_600_000, 10);
  fixes[40] = { ...fixes[40]!, lat: fixes[40]!.lat + 50_000 / M_PER_DEG_LAT, speed: 655 };
  const [d] = fold(fixes);
  // The drive without fix 40: the segment 39 -> 41 is 20 m, as before; only its second is lost.
  t.ok(close(d!.distanceM, 1000, 1e-3), `distance ${d!.distanceM} ~ 1000 m, not ~101 km`);
  t.equal(d!.movingS, 99, 'moving time: the wild fix is not a second of movement');
  t.equal(d!.maxSpeedMps, 10, 'its speed is not the day maximum');
  t.equal(d!.fixes, 101, 'it is still a fix of the day');
  const speedOnly = drive('w', 1, 11, DAY, 10);
  speedOnly[5] = { ...speedOnly[5]!, speed: 300 };
  t.equal(fold(speedOnly)[0]!.maxSpeedMps, 10, 'a reported 300 m/s is not a delivery vehicle');
});

t.test('two wild fixes that agree move the anchor; the jump is not counted', async (t) => {
  // The very first fix is 30 km off (a cold start), the rest a true 10 m/s drive.
  const fixes = drive('j', 1, 61, DAY, 10);
  fixes[0] = { ...fixes[0]!, lat: fixes[0]!.lat - 30_000 / M_PER_DEG_LAT };
  const [d] = fold(fixes);
  // Fix 1 is wild against fix 0, fix 2 agrees with fix 1: counted from fix 1 on, 59 segments.
  t.ok(close(d!.distanceM, 590, 1e-3), `distance ${d!.distanceM} ~ 590 m, not 30 km`);
  t.equal(d!.movingS, 59);
  // A device that really travelled with no fixes between (a dead receiver) is not wild: the
  // time since the last fix allows the distance.
  const gap = [...drive('g', 1, 3, DAY, 10), ...drive('g', 4, 3, DAY + 600_000, 10)];
  for (const f of gap.slice(3)) f.lat += 5_000 / M_PER_DEG_LAT;
  const [g] = fold(gap);
  t.ok(close(g!.distanceM, 5_000 + 20, 1e-3), `5 km in 10 min of silence counted: ${g!.distanceM}`);
});

t.test('parked with 6-10 m of scatter, the receiver saying stopped: nothing added', async (t) => {
  const rnd = prng(7);
  const scatter = parked('s', 1, 3600, DAY).map((f) => {
    const r = 6 + rnd() * 4;
    const a = rnd() * 2 * Math.PI;
    return {
      ...f,
      lat: 48 + (r * Math.sin(a)) / M_PER_DEG_LAT,
      lon: 11 + (r * Math.cos(a)) / (M_PER_DEG_LAT * Math.cos((48 * Math.PI) / 180)),
      hdop: 1,
    };
  });
  const [p] = fold(scatter);
  t.equal(p!.distanceM, 0, `an hour parked: ${p!.distanceM} m`);
  t.equal(p!.movingS, 0);
});

t.test('one moving reading while parked counts nothing; a real start loses no distance', async (t) => {
  const stop = parked('k', 1, 60, DAY);
  // A 0.7 m/s reading with a 9 m jump, the rest standing (nl402u does this: one 0.63 among 0.1-0.48).
  stop[30] = { ...stop[30]!, speed: 0.7, lat: stop[30]!.lat + 9 / M_PER_DEG_LAT };
  const [p] = fold(stop);
  t.same([p!.distanceM, p!.movingS], [0, 0], 'parked with one spike: nothing');
  // Parked, then off at 5 m/s: the first moving reading waits for the second, measured from the
  // anchor (the stop's first fix), so the whole way is counted.
  const calm = parked('k', 1, 60, DAY);
  const off = drive('k', 61, 21, calm[59]!.time + 1000, 5).map((f, i) => ({
    ...f,
    lat: 48 + ((i + 1) * 5) / M_PER_DEG_LAT,
  }));
  const [d] = fold([...calm, ...off]);
  const way = haversineM(calm[0]!.lat, calm[0]!.lon, off[20]!.lat, 11);
  t.ok(Math.abs(d!.distanceM - way) < 1, `${d!.distanceM} m of a ${way} m start`);
  t.ok(d!.movingS >= 19 && d!.movingS <= 21, `moving ${d!.movingS} s of 21`);
});

t.test('positions racing away while the receiver reports standing count nothing', async (t) => {
  // A cold start converging: 4 m a second for 8 s while the receiver reports 0.05 m/s.
  const drift = parked('v', 1, 20, DAY).map((f, i) => ({
    ...f,
    lat: 48 + (Math.min(i, 8) * 4) / M_PER_DEG_LAT,
    lon: 11,
    speed: 0.05,
  }));
  const [v] = fold(drift);
  t.same([v!.distanceM, v!.movingS], [0, 0]);
});

t.test('without reported speed, a slow crawl counts all its moving time', async (t) => {
  // 1 m/s for two minutes: it leaves the 10 m circle every ~10 s; each time, the whole ~10 s.
  const crawl = drive('c', 1, 121, DAY, 1).map(({ speed: _s, ...f }) => f);
  const [c] = fold(crawl);
  t.ok(c!.movingS >= 110, `moving ${c!.movingS} s of 120`);
  t.ok(c!.distanceM >= 110 && c!.distanceM <= 120.01, `distance ${c!.distanceM} m of 120`);
  // Parked a long while, then off: the stop is not moving time.
  const off = [...parked('c', 1, 300, DAY), ...drive('c', 301, 30, DAY + 300_000, 10)].map(
    ({ speed: _s, ...f }) => f,
  );
  const [o] = fold(off);
  t.ok(o!.movingS <= 31, `parked 5 min, then 30 s driving: moving ${o!.movingS} s`);
});

t.test('a drive across midnight is split by UTC day and counted once', async (t) => {
  const fixes = drive('m', 1, 21, DAY - 10_000, 10);
  const days = fold(fixes);
  t.same(
    days.map((d) => d.day),
    [utcDay(DAY - 10_000), utcDay(DAY)],
  );
  t.ok(close(days[0]!.distanceM + days[1]!.distanceM, 200, 1e-3));
  // Fixes at 00:00:00..00:00:10 and the segment 23:59:59 -> 00:00:00: eleven 10 m segments.
  t.ok(close(days[1]!.distanceM, 110, 1e-3), 'the segment into the new day belongs to it');
});

for (const backend of backends) {
  t.test(`store ${backend.name}: trips transaction`, async (t) => {
    const { store, cleanup } = await backend.open();
    t.teardown(async () => {
      await store.close();
      await cleanup();
    });
    const route = drive('x', 1, 200, DAY - 60_000, 12);
    const expected = fold(route);

    t.test('in-order batches give the one-pass numbers', async (t) => {
      for (let i = 0; i < route.length; i += 37) {
        const r = await store.applyTrips(route.slice(i, i + 37).map((f) => ({ ...f, deviceId: 'inorder' })));
        t.equal(r.recomputedDays, 0);
      }
      const got = await store.trips('inorder');
      t.equal(got.length, 2);
      got.forEach((g, i) => {
        t.ok(close(g.distanceM, expected[i]!.distanceM), `${g.day} distance ${g.distanceM}`);
        t.equal(g.movingS, expected[i]!.movingS);
        t.equal(g.maxSpeedMps, 12);
        t.equal(g.fixes, expected[i]!.fixes);
      });
    });

    t.test('redelivery (after a crash before the offset commit) changes nothing', async (t) => {
      const fx = route.map((f) => ({ ...f, deviceId: 'redeliver' }));
      await store.applyTrips(fx.slice(0, 120));
      const r = await store.applyTrips(fx.slice(80, 200)); // 80..119 again, then new ones
      t.equal(r.skipped, 40, 'fixes already folded in are skipped');
      t.equal(r.applied, 80);
      t.equal(r.recomputedDays, 0, 'a redelivery costs no rebuild');
      const again = await store.applyTrips(fx.slice(0, 200));
      t.same([again.skipped, again.applied, again.inserted], [200, 0, 0]);
      const got = await store.trips('redeliver');
      t.equal(got.length, 2);
      got.forEach((g, i) => {
        t.ok(close(g.distanceM, expected[i]!.distanceM), `${g.day} distance`);
        t.equal(g.movingS, expected[i]!.movingS);
        t.equal(g.fixes, expected[i]!.fixes, 'no fix counted twice');
      });
    });

    t.test('out-of-order backlog: live fixes first, backlog later, same result', async (t) => {
      const fx = route.map((f) => ({ ...f, deviceId: 'backlog' }));
      await store.applyTrips(fx.slice(0, 30));
      await store.applyTrips(fx.slice(150));
      await store.applyTrips(fx.slice(30, 150)); // the outbox catching up
      const got = await store.trips('backlog');
      got.forEach((g, i) => {
        t.ok(close(g.distanceM, expected[i]!.distanceM), `${g.day} distance ${g.distanceM}`);
        t.equal(g.movingS, expected[i]!.movingS);
        t.equal(g.fixes, expected[i]!.fixes);
      });
      // And a further in-order fix continues from the rebuilt cursor.
      const next = { ...route[199]!, deviceId: 'backlog', seq: 201, time: route[199]!.time + 1000 };
      next.lat += 12 / M_PER_DEG_LAT;
      const r = await store.applyTrips([next]);
      t.equal(r.applied, 1);
      const last = (await store.trips('backlog')).at(-1)!;
      t.ok(close(last.distanceM, expected[1]!.distanceM + 12, 1e-3));
    });

    t.test(
      'fix-store ahead of trips: a gap filled in the fixes table first is still folded once',
      async (t) => {
        const fx = route.slice(0, 60).map((f) => ({ ...f, deviceId: 'ahead' }));
        await store.applyTrips([...fx.slice(0, 10), ...fx.slice(20, 30)]); // trips saw a gap 10..19
        await store.writeFixes(fx.slice(0, 40)); // fix-store is further along
        const r = await store.applyTrips(fx.slice(10, 20)); // the gap reaches trips: late
        t.ok(r.recomputedDays > 0, 'rebuilt from the stored fixes (0..39)');
        const r2 = await store.applyTrips(fx.slice(30, 40)); // read by the rebuild already
        t.same([r2.skipped, r2.applied, r2.recomputedDays], [10, 0, 0], 'not folded twice');
        await store.applyTrips(fx.slice(40, 60));
        const want = fold(fx);
        const got = await store.trips('ahead');
        t.equal(got.length, want.length);
        got.forEach((g, i) => {
          t.ok(close(g.distanceM, want[i]!.distanceM), `${g.day} distance ${g.distanceM}`);
          t.equal(g.fixes, want[i]!.fixes);
          t.equal(g.movingS, want[i]!.movingS);
        });
      },
    );

    t.test('fromDay/toDay filter and fixes stored by the trips transaction', async (t) => {
      const day = utcDay(DAY);
      t.same(
        (await store.trips('inorder', day, day)).map((d) => d.day),
        [day],
      );
      t.same(await store.trips('inorder', '2030-01-01'), []);
      t.equal((await store.track('inorder', 0, Number.MAX_SAFE_INTEGER, 1000)).length, 200);
    });
  });
}
