// Rebuilds that continue from a checkpoint (ingest/trips/checkpoints.ts) must write exactly what a
// rebuild from 00:00 writes: the same day rows to the last bit, the same cursor and applied seqs,
// the same counts. Checked against the rebuild from 00:00 (MemoryTrips without checkpoints) over
// random reconnect deliveries, and on both stores against that and against an in-order run.
import t, { type Test } from 'tap';
import type { TripApplyResult } from '../ingest/db/store.js';
import { coversRanges, unionRanges } from '../ingest/trips/ranges.js';
import type { Fix } from '../shared/fix.js';
import { backends } from './helpers/ingest-backends.js';
import { type Delivery, inOrder, MemoryTrips, prng, reconnects, route } from './helpers/trips-memory.js';

const DAY = Date.UTC(2026, 2, 2);
const counts = (r: TripApplyResult) => [r.inserted, r.applied, r.skipped, r.recomputedDays];

/** Routes of `devices` devices; some start late on the day before, so their backlog crosses midnight. */
function routes(seed: number, devices: number, n: number): Fix[][] {
  const rnd = prng(seed);
  return Array.from({ length: devices }, (_, d) =>
    route(`dev-${seed}-${d}`, n, DAY - Math.floor(rnd() * 2 * n) * 1000, rnd),
  );
}

/** Feeds a delivery to the reference and to the one under test, comparing every flush's counts. */
async function replay(
  t: Test,
  delivery: Delivery,
  ref: MemoryTrips,
  sut: {
    applyTrips(f: readonly Fix[]): Promise<TripApplyResult>;
    writeFixes(f: readonly Fix[]): Promise<number> | number;
  },
) {
  let resumed = 0;
  let reads = 0;
  let refReads = 0;
  let mismatched = 0;
  for (const [i, batch] of delivery.flushes.entries()) {
    const ahead = delivery.storedAhead.get(i);
    if (ahead) {
      ref.writeFixes(ahead);
      await sut.writeFixes(ahead);
    }
    const want = await ref.applyTrips(batch);
    const got = await sut.applyTrips(batch);
    if (counts(got).join() !== counts(want).join()) {
      mismatched++;
      if (mismatched < 3) t.same(counts(got), counts(want), `flush ${i}: inserted, applied, skipped, days`);
    }
    resumed += got.resumedRebuilds;
    reads += got.rebuildReads;
    refReads += want.rebuildReads;
  }
  t.equal(mismatched, 0, 'every flush counts the same as with rebuilds from 00:00');
  return { resumed, reads, refReads };
}

t.test('seq ranges: union without the cap, coverage', async (t) => {
  const a: [number, number][] = [
    [1, 5],
    [9, 9],
  ];
  t.same(unionRanges(a, [[6, 8]], [[20, 22]]), [
    [1, 9],
    [20, 22],
  ]);
  t.same(
    a,
    [
      [1, 5],
      [9, 9],
    ],
    'inputs left as they were',
  );
  t.ok(
    coversRanges(a, [
      [2, 4],
      [9, 9],
    ]),
  );
  t.notOk(coversRanges(a, [[4, 6]]), 'runs past a range');
  t.notOk(coversRanges(a, [[7, 7]]));
  t.ok(coversRanges(a, []));
});

t.test('memory: random reconnect deliveries, checkpoints against rebuilds from 00:00', async (t) => {
  let resumed = 0;
  let reads = 0;
  let refReads = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const rs = routes(seed, 3, 2500);
    const delivery = reconnects(rs, prng(seed * 7919), {
      drain: 1 + (seed % 20),
      flush: 20 + (seed % 5) * 60,
    });
    const ref = new MemoryTrips(false);
    const sut = new MemoryTrips(true);
    const r = await replay(t, delivery, ref, {
      applyTrips: (f) => sut.applyTrips(f),
      writeFixes: (f) => sut.writeFixes(f),
    });
    resumed += r.resumed;
    reads += r.reads;
    refReads += r.refReads;
    for (const route of rs) {
      const id = route[0]!.deviceId;
      t.same(sut.trips(id), ref.trips(id), `seed ${seed} ${id}: day rows`);
      t.same(sut.states.get(id), ref.states.get(id), `seed ${seed} ${id}: cursor and applied seqs`);
    }
  }
  t.ok(resumed > 100, `${resumed} rebuilds continued from a checkpoint`);
  t.ok(reads * 2 < refReads, `read ${reads} stored fixes, against ${refReads} from 00:00`);
});

t.test(
  'memory: a fix stored before the checkpoint (fix-store ahead) sends the rebuild back to 00:00',
  async (t) => {
    const fx = route('ahead', 400, DAY + 3_600_000, prng(3));
    const ref = new MemoryTrips(false);
    const sut = new MemoryTrips(true);
    const both = async (batch: Fix[]) => {
      const want = await ref.applyTrips(batch);
      const got = await sut.applyTrips(batch);
      t.same(counts(got), counts(want));
      return got;
    };
    // In order, with holes at seqs 51..60 and 101..200: the day's first flush starts the chain of
    // checkpoints (carry.ts), one before each hole.
    const start = await both([...fx.slice(0, 50), ...fx.slice(60, 100), ...fx.slice(200, 300)]);
    t.equal(start.rebuildReads, 190, "the day's first fixes read once, to start the chain");
    t.equal(sut.checkpoints!.holes('ahead').length, 2, 'one checkpoint per hole');
    const first = await both(fx.slice(100, 120)); // late: the backlog of the second hole
    t.equal(first.resumedRebuilds, 1, 'even the first late flush continues from a checkpoint');
    t.equal(first.rebuildReads, 120, 'reading the fixes from the hole on (100..119, 200..299)');
    const second = await both(fx.slice(120, 140));
    t.equal(second.resumedRebuilds, 1, 'the next stretch of backlog continues from the checkpoint');
    t.ok(second.rebuildReads < 200, `read ${second.rebuildReads} fixes, not the day`);
    ref.writeFixes(fx.slice(50, 60)); // fix-store fills the first hole, trips has not seen it
    sut.writeFixes(fx.slice(50, 60));
    const third = await both(fx.slice(140, 160));
    t.equal(third.resumedRebuilds, 0, 'the count before the checkpoint changed: from 00:00');
    t.ok(third.rebuildReads >= 260, 'the whole day read again');
    t.same(sut.trips('ahead'), ref.trips('ahead'));
    t.same(sut.states.get('ahead'), ref.states.get('ahead'));
    const fourth = await both(fx.slice(160, 200));
    t.equal(fourth.resumedRebuilds, 1, 'new checkpoints from that rebuild');
    t.same(sut.trips('ahead'), ref.trips('ahead'));
    t.same(sut.states.get('ahead'), ref.states.get('ahead'));
    const again = await both(fx.slice(0, 300));
    t.same([again.applied, again.recomputedDays], [0, 0], 'a redelivery of everything changes nothing');
  },
);

t.test('memory: a checkpoint whose transaction rolled back is not used', async (t) => {
  const fx = route('rollback', 200, DAY + 3_600_000, prng(5));
  const ref = new MemoryTrips(false);
  const sut = new MemoryTrips(true);
  for (const m of [ref, sut]) {
    await m.applyTrips([...fx.slice(0, 50), ...fx.slice(100, 150)]); // hole 51..100
    m.writeFixes(fx.slice(50, 80)); // fix-store is further along
  }
  // A later device of the same transaction fails: the rebuild of 'rollback' (from the checkpoint
  // before 51, reading 51..80 that fix-store stored) is undone; its checkpoint before 101 (memory)
  // stays, having folded seqs 51..80 that applied does not have.
  sut.failPutStateOf = 'z-other';
  const other = { ...fx[0]!, deviceId: 'z-other' };
  await t.rejects(sut.applyTrips([...fx.slice(50, 60), other]), /putState failed/);
  sut.failPutStateOf = undefined;
  t.ok(
    sut.checkpoints!.holes('rollback').some((c) => coversRanges(c.seqs, [[51, 80]])),
    'the checkpoint outlives the rollback',
  );
  // Then the next stretch first: the count before that checkpoint matches (51..80 are stored),
  // but applied shows its transaction did not commit.
  const next = await sut.applyTrips(fx.slice(80, 90));
  t.equal(next.resumedRebuilds, 0, 'not continued from the rolled-back checkpoint');
  t.same(counts(next), counts(await ref.applyTrips(fx.slice(80, 90))));
  for (const batch of [fx.slice(90, 95), fx.slice(50, 80), fx.slice(95, 100)]) {
    const want = await ref.applyTrips(batch);
    const got = await sut.applyTrips(batch);
    t.same(counts(got), counts(want));
  }
  t.same(sut.trips('rollback'), ref.trips('rollback'));
  t.same(sut.states.get('rollback'), ref.states.get('rollback'));
});

for (const backend of backends) {
  t.test(`store ${backend.name}: checkpoints give the rows of rebuilds from 00:00`, async (t) => {
    const { store, cleanup } = await backend.open();
    t.teardown(async () => {
      await store.close();
      await cleanup();
    });
    const rs = routes(101, 4, 3000);
    const delivery = reconnects(rs, prng(4242), { drain: 15, flush: 400 });
    const ref = new MemoryTrips(false);
    const r = await replay(t, delivery, ref, {
      applyTrips: (f) => store.applyTrips(f) as Promise<TripApplyResult>,
      writeFixes: (f) => store.writeFixes(f),
    });
    t.ok(r.resumed > 10, `${r.resumed} rebuilds continued from a checkpoint`);
    t.ok(r.reads * 2 < r.refReads, `read ${r.reads} stored fixes, against ${r.refReads} from 00:00`);
    for (const route of rs) {
      const id = route[0]!.deviceId;
      t.same(await store.trips(id), ref.trips(id), `${id}: day rows, to the last bit`);
    }
    const again = await store.applyTrips(delivery.flushes.flat());
    t.same([again.applied, again.recomputedDays], [0, 0], 'redelivering everything changes nothing');
    for (const route of rs) {
      const id = route[0]!.deviceId;
      t.same(await store.trips(id), ref.trips(id), `${id}: unchanged by the redelivery`);
    }
  });

  t.test(
    `store ${backend.name}: seqs that do not follow time (clock jumps) read back as in memory`,
    async (t) => {
      const { store, cleanup } = await backend.open();
      t.teardown(async () => {
        await store.close();
        await cleanup();
      });
      // Every 97th fix's clock jumped back 30 s to 5 min: its seq is ahead of fixes with later
      // times, so the stored fixes' time order is not their seq order (what SQLite's minute index
      // must read back exactly, ingest/db/fix-minutes.ts).
      const rnd = prng(9);
      const rs = routes(202, 3, 2000).map((route) =>
        route.map((f) =>
          f.seq % 97 === 0 ? { ...f, time: f.time - 30_000 - Math.floor(rnd() * 270) * 1000 } : f,
        ),
      );
      const delivery = reconnects(rs, prng(31), { drain: 15, flush: 300 });
      const ref = new MemoryTrips(false);
      await replay(t, delivery, ref, {
        applyTrips: (f) => store.applyTrips(f) as Promise<TripApplyResult>,
        writeFixes: (f) => store.writeFixes(f),
      });
      for (const route of rs) {
        const id = route[0]!.deviceId;
        t.same(await store.trips(id), ref.trips(id), `${id}: day rows, to the last bit`);
      }
    },
  );

  t.test(
    `store ${backend.name}: a reconnect drained over many flushes equals the in-order run`,
    async (t) => {
      const { store, cleanup } = await backend.open();
      t.teardown(async () => {
        await store.close();
        await cleanup();
      });
      // Driving through midnight (so the anchor before a rebuilt day is the last fix, as in order).
      const rnd = prng(77);
      const devices = Array.from({ length: 5 }, (_, d) =>
        route(`drive-${d}`, 2400, DAY - 1_200_000, () => 0.3 + rnd() * 0.01),
      );
      const morning = devices.flatMap((fx) => fx.slice(0, 600));
      for (let i = 0; i < morning.length; i += 500) await store.applyTrips(morning.slice(i, i + 500));
      // Dead zone 600..1800 (crossing midnight at 1200), then 30 backlog fixes and one live fix a second.
      const stream: Fix[] = [];
      for (let s = 0; s < 40; s++) {
        for (const fx of devices) stream.push(...fx.slice(600 + s * 30, 630 + s * 30), fx[1800 + s]!);
      }
      let resumed = 0;
      for (let i = 0; i < stream.length; i += 310) {
        resumed += ((await store.applyTrips(stream.slice(i, i + 310))) as TripApplyResult).resumedRebuilds;
      }
      t.ok(resumed > 0, `${resumed} rebuilds continued from a checkpoint`);
      for (const fx of devices) {
        const id = fx[0]!.deviceId;
        t.same(await store.trips(id), inOrder(fx.slice(0, 1840)), `${id}: as if in order`);
      }
    },
  );
}
