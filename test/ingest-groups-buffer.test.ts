// The flush buffer between the partitions' batches and the sink: N rows or T ms, in order,
// each add() settled by the flush that holds its last fix.
import t from 'tap';
import { FlushBuffer } from '../ingest/consumer/flush-buffer.js';
import type { Fix } from '../shared/fix.js';
import { makeFix } from './helpers/ingest-backends.js';

const fixes = (dev: string, from: number, n: number): Fix[] =>
  Array.from({ length: n }, (_, i) => makeFix(dev, from + i));

t.test('cuts at maxRows, the rest on the timer, in order', async (t) => {
  const flushes: number[][] = [];
  const b = new FlushBuffer(
    async (f) => {
      flushes.push(f.map((x) => x.seq));
    },
    10,
    20,
  );
  await b.add(fixes('a', 1, 25));
  t.same(
    flushes.map((f) => f.length),
    [10, 10, 5],
  );
  t.same(
    flushes.flat(),
    Array.from({ length: 25 }, (_, i) => i + 1),
    'order kept',
  );
});

t.test('concurrent adds share one flush', async (t) => {
  const sizes: number[] = [];
  const b = new FlushBuffer(
    async (f) => {
      sizes.push(f.length);
    },
    1000,
    30,
  );
  await Promise.all([b.add(fixes('a', 1, 3)), b.add(fixes('b', 1, 4)), b.add([])]);
  t.same(sizes, [7]);
});

t.test('an add spanning two flushes resolves only after the second', async (t) => {
  const events: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const b = new FlushBuffer(
    async (f) => {
      events.push(`flush ${f.length}`);
      if (f.length === 3) await gate;
      events.push(`done ${f.length}`);
    },
    4,
    10_000,
  );
  const first = b.add(fixes('a', 1, 2)).then(() => events.push('first resolved'));
  const second = b.add(fixes('a', 3, 5)).then(() => events.push('second resolved'));
  // 7 rows, maxRows 4: flush [1..4] settles `first`; [5..7] waits for the timer or flushNow.
  await first;
  t.notOk(events.includes('second resolved'));
  const flushed = b.flushNow();
  setImmediate(release);
  await Promise.all([second, flushed]);
  t.same(events, ['flush 4', 'done 4', 'first resolved', 'flush 3', 'done 3', 'second resolved']);
});

t.test('a failed flush rejects its adds; the buffer keeps working', async (t) => {
  let fail = true;
  const written: number[] = [];
  const b = new FlushBuffer(
    async (f) => {
      if (fail) throw new Error('database is down');
      written.push(...f.map((x) => x.seq));
    },
    100,
    5,
  );
  await t.rejects(b.add(fixes('a', 1, 3)), /database is down/);
  fail = false;
  await b.add(fixes('a', 1, 3));
  t.same(written, [1, 2, 3], 'redelivered fixes written on retry');
});

t.test('maxRows must be positive', async (t) => {
  t.throws(() => new FlushBuffer(async () => undefined, 0, 10), /maxRows/);
});
