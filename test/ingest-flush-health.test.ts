// The flush health a group's /healthz check reads (ingest/consumer/flush-health.ts): a run of
// failed flushes makes it unhealthy only once it has lasted, a success in the middle of failures
// does not end it, and a success followed by as long without a failure does.
import t from 'tap';
import {
  FlushHealth,
  flushTrouble,
  FLUSH_FAILING_UNHEALTHY_MS as LONG,
} from '../ingest/consumer/flush-health.js';

t.test('a run of failed flushes: since its first failure, with the last error', async (t) => {
  const h = new FlushHealth();
  t.equal(h.failing(0), undefined, 'nothing failed yet');
  h.ok();
  t.equal(h.failing(0), undefined, 'a success alone starts nothing');
  h.failed(new Error('SQLITE_FULL: database or disk is full'), 1000);
  h.failed(new Error('disk I/O error'), 3000);
  t.match(h.failing(3000), {
    since: 1000,
    lastFailed: 3000,
    failed: 2,
    succeeded: 0,
    error: 'disk I/O error',
  });
  t.equal(flushTrouble(h.failing(3000), 1000 + LONG - 1), null, 'one retry window is no trouble');
  t.equal(
    flushTrouble(h.failing(3000), 1000 + 12_400),
    'flushes failing for 12 s (none succeeded): disk I/O error',
    'a run that lasts is',
  );
});

t.test(
  'a success between failures does not end the run (a full disk lets some flushes through)',
  async (t) => {
    const h = new FlushHealth();
    h.failed(new Error('disk I/O error'), 1000);
    h.ok();
    t.ok(h.failing(1500), 'the run goes on right after a success');
    h.failed(new Error('disk I/O error'), 2000);
    h.ok();
    h.ok();
    h.failed(new Error('database or disk is full'), 6500);
    t.equal(
      flushTrouble(h.failing(6500), 7000),
      'flushes failing for 6 s (3 of 6 succeeded): database or disk is full',
      'counted from the first failure, with how many went through',
    );
  },
);

t.test('a success followed by no failure for as long ends the run', async (t) => {
  const h = new FlushHealth();
  h.failed(new Error('disk I/O error'), 1000);
  h.failed(new Error('disk I/O error'), 9000);
  h.ok();
  const f = h.failing(9000);
  t.ok(flushTrouble(f, 9000 + LONG - 1), 'still unhealthy just before the quiet time is up');
  t.equal(flushTrouble(f, 9000 + LONG), null, 'healthy once it is, read from a snapshot taken before');
  t.equal(h.failing(9000 + LONG), undefined, 'and the run is dropped');
  h.failed('not an Error', 50_000);
  t.match(
    h.failing(50_000),
    { since: 50_000, failed: 1, succeeded: 0, error: 'not an Error' },
    'a new run starts at its own first failure',
  );
});

t.test('a failure after the run is over but before anyone asked starts a new run', async (t) => {
  const h = new FlushHealth();
  h.failed(new Error('deadlock detected'), 1000);
  h.ok();
  h.failed(new Error('disk I/O error'), 1000 + LONG + 100);
  t.match(
    h.failing(1000 + LONG + 100),
    { since: 1000 + LONG + 100, failed: 1 },
    'counted from the new failure',
  );
  t.equal(flushTrouble(h.failing(1000 + LONG + 200), 1000 + LONG + 200), null, 'so it is no trouble yet');
});

t.test('failures without a success never end the run, however far apart', async (t) => {
  const h = new FlushHealth();
  h.failed(new Error('disk I/O error'), 1000);
  h.failed(new Error('disk I/O error'), 1000 + 3 * LONG);
  t.equal(
    flushTrouble(h.failing(1000 + 3 * LONG), 1000 + 4 * LONG),
    'flushes failing for 20 s (none succeeded): disk I/O error',
  );
});
