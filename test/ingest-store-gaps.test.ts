// The gap cache reads only what changed after the first full scan, and stays exact.
import t from 'tap';
import { GapCache, type SeqSource } from '../ingest/db/gap-cache.js';

/** An in-memory seq set standing in for the fixes table, counting how much each call reads. */
function source(stored: Set<number>) {
  const stats = { fullScans: 0, rowsRead: 0 };
  const src: SeqSource = {
    async allGaps(_d, maxSeq) {
      stats.fullScans++;
      stats.rowsRead += stored.size;
      const out: [number, number][] = [];
      let prev = 0;
      for (const s of [...stored].filter((x) => x <= maxSeq).sort((a, b) => a - b)) {
        if (s > prev + 1) out.push([prev + 1, s - 1]);
        prev = s;
      }
      return out;
    },
    async seqsBetween(_d, from, to) {
      const r = [...stored].filter((s) => s >= from && s <= to).sort((a, b) => a - b);
      stats.rowsRead += r.length;
      return r;
    },
  };
  return { src, stats };
}

t.test('one full scan, then only the changes are read', async (t) => {
  const stored = new Set<number>();
  for (let s = 1; s <= 100_000; s++) if (s !== 500 && s !== 90_000) stored.add(s);
  const { src, stats } = source(stored);
  const cache = new GapCache();
  const max = () => Math.max(...stored);
  t.same(await cache.ranges(src, 'd', max(), stored.size), [
    [500, 500],
    [90_000, 90_000],
  ]);
  t.equal(stats.fullScans, 1);
  const afterFirst = stats.rowsRead;
  // New fixes arrive (one new gap at 100_003), backlog fills 500.
  for (const s of [100_001, 100_002, 100_004, 500]) stored.add(s);
  t.same(await cache.ranges(src, 'd', max(), stored.size), [
    [90_000, 90_000],
    [100_003, 100_003],
  ]);
  t.equal(stats.fullScans, 1, 'no second full scan');
  t.ok(stats.rowsRead - afterFirst < 10, `read ${stats.rowsRead - afterFirst} rows for the update`);
  // Unchanged counters: nothing read at all.
  const before = stats.rowsRead;
  await cache.ranges(src, 'd', max(), stored.size);
  t.equal(stats.rowsRead, before);
});

t.test('an answer that disagrees with the counters falls back to a full scan', async (t) => {
  const stored = new Set([1, 2, 4]);
  const { src, stats } = source(stored);
  const cache = new GapCache();
  await cache.ranges(src, 'd', 4, 3);
  // The counters claim one more missing seq than the seqs show (a write raced the read).
  stored.add(6);
  stored.add(3);
  const r = await cache.ranges(src, 'd', 6, 4);
  t.equal(stats.fullScans, 2, 'rescanned');
  t.same(r, [[5, 5]], 'the rows decide');
});

t.test('a device with thousands of gaps is refilled in one query, and stays exact', async (t) => {
  // Every other seq stored (a receiver whose every other fix is refused): 5,000 gaps.
  const stored = new Set<number>();
  for (let s = 1; s <= 10_000; s += 2) stored.add(s);
  let queries = 0;
  const { src: inner } = source(stored);
  const src: SeqSource = {
    allGaps: (d, m) => inner.allGaps(d, m),
    seqsBetween: (d, a, b) => {
      queries++;
      return inner.seqsBetween(d, a, b);
    },
  };
  const cache = new GapCache();
  t.equal((await cache.ranges(src, 'd', 9999, stored.size)).length, 4999);
  // Backlog fills 100 of the gaps, new fixes arrive above.
  for (let s = 2; s <= 200; s += 2) stored.add(s);
  stored.add(10_001);
  stored.add(10_003);
  const ranges = await cache.ranges(src, 'd', 10_003, stored.size);
  t.equal(queries, 2, 'one query for the known gaps, one for the seqs above them');
  t.equal(ranges.length, 4999 - 100 + 2);
  t.same(ranges.slice(0, 2), [
    [202, 202],
    [204, 204],
  ]);
  t.same(ranges.slice(-2), [
    [10_000, 10_000],
    [10_002, 10_002],
  ]);
});
