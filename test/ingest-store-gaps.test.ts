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
