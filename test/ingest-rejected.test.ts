// The rejected-seq helpers: merging seqs into ranges, and splitting a missing range around them,
// checked against a seq-by-seq answer.
import t from 'tap';
import type { SeqRange } from '../ingest/db/gap-cache.js';
import { RejectedCache, splitRejected, toSeqRanges } from '../ingest/db/rejected.js';

t.test('seqs merge into ranges', async (t) => {
  t.same(toSeqRanges([]), []);
  t.same(toSeqRanges([1, 2, 3, 5, 7, 8]), [
    [1, 3],
    [5, 5],
    [7, 8],
  ]);
});

t.test('splitRejected agrees with a seq-by-seq split, over many random cases', async (t) => {
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 500; round++) {
    const rejectedSeqs = [...new Set(Array.from({ length: rand(30) }, () => 1 + rand(60)))].sort(
      (a, b) => a - b,
    );
    const rejected = toSeqRanges(rejectedSeqs);
    const from = 1 + rand(60);
    const to = from + rand(20);
    const want: { from: number; to: number; rejected: boolean }[] = [];
    for (let s = from; s <= to; s++) {
      const r = rejectedSeqs.includes(s);
      const last = want[want.length - 1];
      if (last && last.rejected === r && last.to === s - 1) last.to = s;
      else want.push({ from: s, to: s, rejected: r });
    }
    const got = splitRejected(from, to, rejected);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.same(got, want, `round ${round}: ${from}..${to} around ${JSON.stringify(rejected)}`);
      return;
    }
  }
  t.pass('500 random cases agree');
});

t.test('splitting 50,000 gaps around 50,000 rejected ranges reads each range about once', async (t) => {
  // Every even seq rejected, every odd one stored: the gaps are the even seqs.
  const rejected: SeqRange[] = [];
  for (let s = 2; s <= 100_000; s += 2) rejected.push([s, s]);
  let visited = 0;
  const counting = new Proxy(rejected, {
    get(target, p, r) {
      if (typeof p === 'string' && /^\d+$/.test(p)) visited++;
      return Reflect.get(target, p, r);
    },
  });
  let n = 0;
  for (let s = 2; s <= 100_000; s += 2) n += splitRejected(s, s, counting).length;
  t.equal(n, 50_000);
  // A scan from the start each time would read ~1.25e9; a binary search ~17 a gap, plus the match.
  t.ok(visited < 50_000 * 25, `ranges read: ${visited}`);
});

t.test('the cache reloads a device only when its count changed', async (t) => {
  const seqs = new Map<string, number[]>([['a', [3, 4, 9]]]);
  let loads = 0;
  const src = {
    counts: async () => new Map([...seqs].map(([d, s]) => [d, s.length])),
    seqs: async (d: string) => {
      loads++;
      return seqs.get(d) ?? [];
    },
  };
  const cache = new RejectedCache();
  await cache.refresh(src);
  await cache.refresh(src);
  t.equal(loads, 1);
  t.same(cache.ranges('a'), [
    [3, 4],
    [9, 9],
  ]);
  t.equal(cache.top('a'), 9);
  t.equal(cache.top('none'), 0);
  seqs.set('a', [3, 4, 9, 12]);
  await cache.refresh(src);
  t.equal(loads, 2);
  t.equal(cache.top('a'), 12);
});
