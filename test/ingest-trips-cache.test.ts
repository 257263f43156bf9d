// The trip states kept in memory between flushes (ingest/trips/state-cache.ts) must never change
// what is written: another process advancing a device meanwhile (the version check), a flush that
// rolls back (nothing of it kept), a redelivery (still skipped), a rebuild (what it wrote is kept).
// Checked against one in-order pass and against the trips transaction without kept states.
import Database from 'better-sqlite3';
import pg from 'pg';
import t from 'tap';
import type { PostgresStore } from '../ingest/db/postgres.js';
import { SqliteStore } from '../ingest/db/sqlite.js';
import type { Store, TripApplyResult } from '../ingest/db/store.js';
import { addSeqs, appendRun, unionRanges } from '../ingest/trips/ranges.js';
import { TripStateCache } from '../ingest/trips/state-cache.js';
import { backends, PG_URL } from './helpers/ingest-backends.js';
import { inOrder, MemoryTrips, prng, reconnects, route } from './helpers/trips-memory.js';

const DAY = Date.UTC(2026, 2, 3);
const counts = (r: TripApplyResult) => [r.inserted, r.applied, r.skipped, r.recomputedDays];

/** A drive crossing midnight at its 50th fix, so flushes touch two days. */
const drive = (id: string, n = 300) => route(id, n, DAY - 50_000, prng(id.length * 31 + n));

t.test('seq ranges: the in-order shortcuts give what the general union gives', async (t) => {
  const rnd = prng(9);
  for (let i = 0; i < 2000; i++) {
    const r: [number, number][] = [];
    let at = 1;
    for (let k = Math.floor(rnd() * 5); k > 0; k--) {
      const a = at + Math.floor(rnd() * 3);
      const b = a + Math.floor(rnd() * 4);
      r.push([a, b]);
      at = b + 2;
    }
    const seqs = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => Math.floor(rnd() * (at + 6)));
    t.same(
      addSeqs(r, seqs),
      unionRanges(
        r,
        seqs.map((s): [number, number] => [s, s]),
      ),
      `addSeqs ${i}`,
    );
    const a = Math.floor(rnd() * (at + 4));
    const b = a + Math.floor(rnd() * 3);
    t.same(appendRun(r, a, b), unionRanges(r, [[a, b]]), `appendRun ${i}`);
  }
});

t.test('cache: bounded by devices and by applied ranges, least recently written forgotten', async (t) => {
  const c = new TripStateCache(3, 10);
  const entry = (ranges: number) => ({
    state: {
      cursor: {
        lastSeq: 1,
        lastTime: 1,
        lastLat: 0,
        lastLon: 0,
        anchorLat: 0,
        anchorLon: 0,
        anchorTime: 1,
        anchorSeen: 1,
        lastSpeed: null,
      },
      applied: Array.from({ length: ranges }, (_, i): [number, number] => [i * 3, i * 3 + 1]),
    },
    version: 1,
    days: [],
  });
  for (const id of ['a', 'b', 'c', 'd']) c.put(id, entry(1));
  t.equal(c.size, 3);
  t.notOk(c.get('a'), 'the oldest device forgotten beyond the device cap');
  c.put('e', entry(9));
  t.same(
    ['b', 'c', 'd', 'e'].map((id) => !!c.get(id)),
    [false, false, true, true],
    '10 ranges at most',
  );
  const staged = c.stage();
  staged.set('f', entry(1));
  t.ok(staged.get('f') && !c.get('f'), 'staged entries are only seen by their transaction');
  staged.install();
  t.ok(c.get('f'), 'installed after the commit');
});

t.test('memory: kept states, two processes sharing the group, random reconnects', async (t) => {
  for (let seed = 1; seed <= 12; seed++) {
    const rnd = prng(seed * 104729);
    const rs = Array.from({ length: 3 }, (_, d) =>
      route(`m-${seed}-${d}`, 1500, DAY - Math.floor(rnd() * 3000) * 1000, rnd),
    );
    const delivery = reconnects(rs, prng(seed), { drain: 1 + (seed % 7), flush: 30 + (seed % 4) * 50 });
    const ref = new MemoryTrips(false);
    const one = new MemoryTrips(true, true);
    const two = one.sharing(true, true);
    let mismatched = 0;
    for (const [i, batch] of delivery.flushes.entries()) {
      const ahead = delivery.storedAhead.get(i);
      if (ahead) {
        ref.writeFixes(ahead);
        one.writeFixes(ahead);
      }
      // The partition moves between the processes now and then (a rebalance), and back.
      const sut = Math.floor(i / 7) % 3 === 1 ? two : one;
      const want = await ref.applyTrips(batch);
      const got = await sut.applyTrips(batch);
      if (counts(got).join() !== counts(want).join() && mismatched++ < 3) {
        t.same(counts(got), counts(want), `seed ${seed} flush ${i}`);
      }
    }
    t.equal(mismatched, 0, `seed ${seed}: every flush counts as without kept states`);
    for (const r of rs) {
      const id = r[0]!.deviceId;
      t.same(one.trips(id), ref.trips(id), `seed ${seed} ${id}: day rows`);
      t.same(one.states.get(id), ref.states.get(id), `seed ${seed} ${id}: cursor and applied`);
    }
  }
});

/** A statement that makes the database refuse trip_days rows of one device (a real failure). */
async function refuseDays(store: Store, deviceId: string): Promise<() => Promise<void>> {
  if (store instanceof SqliteStore) {
    const db = new Database(store.path);
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON trip_days WHEN NEW.device_id = '${deviceId}'
      BEGIN SELECT RAISE(ABORT, 'refused (test)'); END`);
    return async () => {
      db.exec('DROP TRIGGER refuse');
      db.close();
    };
  }
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  const table = `${(store as PostgresStore).schema}.trip_days`;
  await c.query(`ALTER TABLE ${table} ADD CONSTRAINT refuse CHECK (device_id <> '${deviceId}') NOT VALID`);
  return async () => {
    await c.query(`ALTER TABLE ${table} DROP CONSTRAINT refuse`);
    await c.end();
  };
}

for (const backend of backends) {
  t.test(`store ${backend.name}: kept trip states`, async (t) => {
    const { store, reopen, cleanup } = await backend.open();
    const other = await reopen();
    t.teardown(async () => {
      await store.close();
      await other.close();
      await cleanup();
    });

    t.test('another process advances a device between two flushes of this one', async (t) => {
      const a = drive('moved');
      const b = drive('stays'); // in the same flushes, its kept state stays right
      const flushOf = (from: number, to: number) => [...a.slice(from, to), ...b.slice(from, to)];
      t.same(counts(await store.applyTrips(flushOf(0, 100))), [200, 200, 0, 0]);
      // The partition moves to the other process, which folds 100..199 and commits ...
      t.same(counts(await other.applyTrips(a.slice(100, 200))), [100, 100, 0, 0]);
      // ... and back; this process has 'moved' at seq 100 in memory. Its next flush starts where
      // the other's committed offset left off (200), or at its own (100: the other's commit lost).
      const next = await store.applyTrips([...a.slice(200, 250), ...b.slice(100, 150)]);
      t.same(counts(next), [100, 100, 0, 0], 'the stale state is not folded onto');
      t.same(await store.trips('moved'), inOrder(a.slice(0, 250)), 'as one in-order pass');
      await other.applyTrips(a.slice(250, 270));
      const again = await store.applyTrips([...a.slice(250, 300), ...b.slice(150, 300)]);
      t.same(counts(again), [180, 180, 20, 0], "the other's fixes redelivered here are skipped");
      t.same(await store.trips('moved'), inOrder(a), 'moved: as one in-order pass');
      t.same(await store.trips('stays'), inOrder(b), 'stays: as one in-order pass');
      // And a fresh store on the same data, computing from the stored state, agrees.
      const cold = await reopen();
      t.teardown(() => cold.close());
      t.same(counts(await cold.applyTrips(a)), [0, 0, 300, 0]);
      const late = { ...a[299]!, seq: 301, time: a[299]!.time + 1000 };
      t.same(counts(await other.applyTrips([late])), [1, 1, 0, 0]);
      t.same(counts(await store.applyTrips([late])), [0, 0, 1, 0], 'skipped though kept as fresh');
      t.same(await store.trips('moved'), inOrder([...a, late]));
    });

    t.test('a device new to both processes, inserted by the other first', async (t) => {
      const a = drive('newboth', 40);
      t.same(counts(await other.applyTrips(a.slice(0, 20))), [20, 20, 0, 0]);
      t.same(counts(await store.applyTrips(a.slice(0, 40))), [20, 20, 20, 0]);
      t.same(await store.trips('newboth'), inOrder(a));
    });

    t.test('a flush whose transaction fails keeps nothing of it', async (t) => {
      const a = drive('rolled');
      const bad = drive('zz-refused', 5);
      await store.applyTrips(a.slice(0, 100));
      const allow = await refuseDays(store, 'zz-refused');
      // 'rolled' is folded onto its kept state and written; 'zz-refused' then makes the database
      // refuse the transaction: all of it is rolled back.
      await t.rejects(store.applyTrips([...a.slice(100, 150), ...bad]), /refuse/);
      await allow();
      t.same(await store.trips('rolled'), inOrder(a.slice(0, 100)), 'the database as before');
      // Redelivered: had the failed flush's state been kept, its fixes would look applied.
      const r = await store.applyTrips([...a.slice(100, 150), ...bad]);
      t.same(counts(r), [55, 55, 0, 0], 'the redelivery is applied, not skipped');
      t.same(await store.trips('rolled'), inOrder(a.slice(0, 150)));
      t.same(await store.trips('zz-refused'), inOrder(bad));
    });

    t.test('redelivery of applied fixes is skipped, nothing doubled', async (t) => {
      const a = drive('redeliver');
      await store.applyTrips(a.slice(0, 100));
      t.same(counts(await store.applyTrips(a.slice(0, 100))), [0, 0, 100, 0], 'a whole batch again');
      t.same(counts(await store.applyTrips(a.slice(60, 130))), [30, 30, 40, 0], 'half again');
      t.same(counts(await store.applyTrips([...a.slice(130, 140), ...a.slice(130, 140)])), [10, 10, 10, 0]);
      t.same(await store.trips('redeliver'), inOrder(a.slice(0, 140)));
    });

    t.test('device ids with quotes, backslashes, commas and braces go through', async (t) => {
      const id = 'odd "id", \\ {x}';
      const a = drive(id, 20).map((f, i) => (i % 2 ? f : { ...f, alt: 1.5, speed: undefined }));
      t.same(counts(await store.applyTrips(a.slice(0, 10))), [10, 10, 0, 0]);
      t.same(counts(await store.applyTrips(a.slice(10))), [10, 10, 0, 0]);
      t.same(await store.trips(id), inOrder(a));
      t.same(
        await store.track(id, 0, Number.MAX_SAFE_INTEGER, 100),
        a.map(({ speed, ...f }) => (speed === undefined ? f : { ...f, speed })),
      );
    });

    t.test('a new day needs no read; a day not kept is read', async (t) => {
      const a = drive('midnight'); // midnight between its fixes 49 and 50
      for (const [from, to] of [
        [0, 30],
        [30, 50],
        [50, 51],
        [51, 120],
      ] as const) {
        t.same(counts(await store.applyTrips(a.slice(from, to))), [to - from, to - from, 0, 0]);
      }
      t.same(await store.trips('midnight'), inOrder(a.slice(0, 120)));
      // A store that has the state but not the day's row (all skipped: nothing of the day read).
      const cold = await reopen();
      t.teardown(() => cold.close());
      t.same(counts(await cold.applyTrips(a.slice(100, 120))), [0, 0, 20, 0]);
      t.same(counts(await cold.applyTrips(a.slice(120, 150))), [30, 30, 0, 0]);
      t.same(await store.trips('midnight'), inOrder(a.slice(0, 150)), 'the row of the day was read');
    });

    t.test('after a rebuild, in-order flushes continue from what it wrote', async (t) => {
      const a = drive('rebuilt');
      await store.applyTrips(a.slice(0, 50));
      await store.applyTrips(a.slice(80, 120)); // 50..79 late
      const r = await store.applyTrips(a.slice(50, 80));
      t.ok(r.recomputedDays > 0, 'rebuilt');
      for (let i = 120; i < 300; i += 30) {
        t.same(counts(await store.applyTrips(a.slice(i, i + 30))), [30, 30, 0, 0]);
      }
      t.same(await store.trips('rebuilt'), inOrder(a));
    });
  });
}
