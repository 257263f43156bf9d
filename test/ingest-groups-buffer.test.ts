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

/** Holds the thread for `ms`, as a synchronous sink (better-sqlite3) does. */
const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

t.test('a synchronous sink gives the event loop a turn between flushes of one batch', async (t) => {
  let flushes = 0;
  const b = new FlushBuffer(
    async () => {
      busy(2);
      flushes++;
    },
    1,
    10_000,
    10,
  );
  // Each event-loop turn records how many flushes ran since the last one.
  const runs: number[] = [];
  let last = 0;
  let stop = false;
  const turn = () => {
    runs.push(flushes - last);
    last = flushes;
    if (!stop) setImmediate(turn);
  };
  setImmediate(turn);
  await b.add(fixes('a', 1, 100));
  stop = true;
  t.equal(flushes, 100);
  // Before: 0 turns until all 100 flushes (200 ms) were done. Now a turn every ~10 ms (5 flushes
  // of 2 ms); 10 leaves room for a slow machine overshooting the busy wait.
  t.ok(runs.length >= 10, `${runs.length} turns during the batch`);
  t.ok(Math.max(...runs) <= 10, `at most ${Math.max(...runs)} flushes without a turn`);
});

t.test('a flush discarded while it waits for its turn is not written', async (t) => {
  const written: number[] = [];
  const b = new FlushBuffer(
    async (f) => {
      busy(2);
      written.push(f[0]!.seq);
    },
    1,
    10_000,
    5,
  );
  const done = b.add(fixes('a', 1, 50));
  // The first turn comes after ~5 ms of flushes; what is left is dropped there.
  setImmediate(() => b.discard(new Error('rewound')));
  await t.rejects(done, /rewound|discarded/);
  await b.flushNow();
  t.ok(written.length > 0 && written.length < 50, `${written.length} of 50 written before the discard`);
  t.same(
    written,
    Array.from({ length: written.length }, (_, i) => i + 1),
    'the ones written are the first, in order',
  );
});

t.test('maxRows must be positive', async (t) => {
  t.throws(() => new FlushBuffer(async () => undefined, 0, 10), /maxRows/);
});
