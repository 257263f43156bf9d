// The flush health a group's /healthz check reads (ingest/consumer/flush-health.ts): a run of
// failed flushes makes it unhealthy only once it has lasted, and any success ends the run.
import t from 'tap';
import { FLUSH_FAILING_UNHEALTHY_MS, FlushHealth, flushTrouble } from '../ingest/consumer/flush-health.js';

t.test('a run of failed flushes: since its first failure, with the last error', async (t) => {
  const h = new FlushHealth();
  t.equal(h.failing(), undefined, 'nothing failed yet');
  h.failed(new Error('SQLITE_FULL: database or disk is full'), 1000);
  h.failed(new Error('disk I/O error'), 3000);
  t.same(h.failing(), { since: 1000, error: 'disk I/O error' });
  t.equal(
    flushTrouble(h.failing(), 1000 + FLUSH_FAILING_UNHEALTHY_MS - 1),
    null,
    'one retry window is no trouble',
  );
  t.equal(
    flushTrouble(h.failing(), 1000 + 12_400),
    'no flush has succeeded for 12 s: disk I/O error',
    'a run that lasts is',
  );
  h.ok();
  t.equal(h.failing(), undefined, 'a flush that succeeds ends the run');
  t.equal(flushTrouble(h.failing(), 1_000_000), null);
  h.failed('not an Error', 50_000);
  t.same(h.failing(), { since: 50_000, error: 'not an Error' }, 'a new run starts at its own first failure');
});
