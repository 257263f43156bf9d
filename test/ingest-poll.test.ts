// The pollers behind the lag and seq-gap gauges (consumer/poll.ts): a tick runs at once and then
// every interval, never two at a time, a failure is logged and the next tick tries again, and
// stop() ends it. setInterval is node:test's mock, moved by hand, so no assertion depends on
// how fast this machine is; pollGaps then fills its gauges from a real SQLite store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock } from 'node:test';
import t from 'tap';
import { pollEvery } from '../ingest/consumer/poll.js';
import { openStore } from '../ingest/db/open.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import { pollGaps } from '../ingest/sinks/gaps.js';
import { capturedLog } from './helpers/ingest-http.js';
import { fix } from './helpers/ingest-web.js';

/** Lets the promise callbacks queued so far run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

t.test('pollEvery: at once, then each interval, skipping ticks while one runs', async (t) => {
  mock.timers.enable({ apis: ['setInterval'] });
  t.teardown(() => mock.timers.reset());
  const { logger, lines } = capturedLog('info');
  let calls = 0;
  let running = 0;
  let mostAtOnce = 0;
  let release: (() => void) | undefined;
  let failNext = false;
  const stop = pollEvery(1000, 'count things', logger, async () => {
    calls++;
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    try {
      if (failNext) {
        failNext = false;
        throw new Error('database away');
      }
      await new Promise<void>((r) => {
        release = r;
      });
    } finally {
      running--;
    }
  });
  t.equal(calls, 1, 'the first tick runs at once');
  mock.timers.tick(5000);
  await settle();
  t.equal(calls, 1, 'five intervals while it runs: none started');
  release!();
  await settle();
  mock.timers.tick(1000);
  await settle();
  t.equal(calls, 2, 'the next interval after it finished runs again');
  failNext = true;
  release!();
  await settle();
  mock.timers.tick(1000);
  await settle();
  t.equal(calls, 3);
  t.equal(lines.filter((l) => /could not count things/.test(l) && /database away/.test(l)).length, 1);
  mock.timers.tick(1000);
  await settle();
  t.equal(calls, 4, 'a failure does not stop the polling');
  release!();
  await settle();
  stop();
  mock.timers.tick(10_000);
  await settle();
  t.equal(calls, 4, 'nothing after stop()');
  t.equal(mostAtOnce, 1, 'never two at a time');
});

t.test('pollGaps: the gauges follow the database', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-poll-'));
  const store = await openStore({ sqlitePath: join(dir, 'ingest.db') });
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // seqs 1, 2, 6 with 1..3 reported dropped: 3 lost, 4 and 5 still expected.
  await store.writeFixes([fix('r1', 1), fix('r1', 2), fix('r1', 6, { droppedThrough: 3 })]);
  const metrics = createIngestMetrics();
  const stop = pollGaps(store, metrics, capturedLog('info').logger, 60_000);
  t.teardown(stop);
  const gauge = async (g: typeof metrics.seqMissing) => (await g.get()).values[0]?.value;
  for (let i = 0; i < 1000 && (await gauge(metrics.seqLost)) !== 1; i++) await settle();
  t.equal(await gauge(metrics.seqMissing), 2);
  t.equal(await gauge(metrics.seqLost), 1);
});
