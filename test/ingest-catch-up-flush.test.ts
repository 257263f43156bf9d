// A consumer that is behind flushes as soon as every batch in hand has added its fixes, instead
// of waiting for the flush timer; one that is caught up keeps waiting for it (catch-up-flush.ts).
// The timers here are an hour long: a flush that waited for one would end the test by tap's timeout.
// It applies to a group whose batches wait for their flush: one that commits on a timer
// (commitIntervalMs, the live view's); the store groups fetch on meanwhile (durable-commits.ts).
import { setImmediate as nextTurn } from 'node:timers/promises';
import t from 'tap';
import { CatchUpFlush } from '../ingest/consumer/catch-up-flush.js';
import { FlushBuffer } from '../ingest/consumer/flush-buffer.js';
import { runGroup } from '../ingest/consumer/runner.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import type { Fix } from '../shared/fix.js';
import { createLogger } from '../shared/log.js';
import { makeFix, roundRobinMessages } from './helpers/ingest-backends.js';
import { committed, startTestBroker, waitFor } from './helpers/ingest-kafka.js';

const HOUR = 3_600_000;
const fixes = (dev: string, n: number): Fix[] => Array.from({ length: n }, (_, i) => makeFix(dev, i + 1));

function recordingBuffer() {
  const sizes: number[] = [];
  const buffer = new FlushBuffer(
    async (f) => {
      sizes.push(f.length);
    },
    1_000_000,
    HOUR,
  );
  return { sizes, buffer, catchUp: new CatchUpFlush(() => void buffer.flushNow()) };
}

t.test('behind: the flush is cut once every batch in hand has added its fixes', async (t) => {
  const { sizes, buffer, catchUp } = recordingBuffer();
  const a = catchUp.enter();
  const b = catchUp.enter();
  const doneA = buffer.add(fixes('a', 3));
  a.added(true);
  await nextTurn();
  await nextTurn();
  t.same(sizes, [], 'another batch is still adding: it may join this flush, so no flush yet');
  const doneB = buffer.add(fixes('b', 2));
  b.added(false);
  await Promise.all([doneA, doneB]);
  t.same(sizes, [5], 'one flush holding both batches, without waiting for the timer');
  a.leave();
  b.leave();
});

t.test('caught up: the timer still decides', async (t) => {
  const { sizes, buffer, catchUp } = recordingBuffer();
  const a = catchUp.enter();
  const done = buffer.add(fixes('a', 4));
  a.added(false);
  for (let i = 0; i < 5; i++) await nextTurn();
  t.same(sizes, [], 'no partition has more at the broker: the timer gathers the next fetch');
  await buffer.flushNow(); // the timer's part, without waiting an hour
  await done;
  a.leave();
  t.same(sizes, [4]);
});

t.test('a batch that leaves without adding (its decode threw) does not hold the flush', async (t) => {
  const { sizes, buffer, catchUp } = recordingBuffer();
  const a = catchUp.enter();
  const b = catchUp.enter();
  const done = buffer.add(fixes('a', 2));
  a.added(true);
  await nextTurn();
  t.same(sizes, []);
  b.leave();
  await done;
  t.same(sizes, [2]);
  a.leave();
});

t.test('a backlog, committed on a timer, is written fetch by fetch, not timer by timer', async (t) => {
  const k = await startTestBroker();
  const metrics = createIngestMetrics();
  const topic = 'gps.fixes';
  await k.createTopic(topic, 2);
  const total = 2000;
  const devices = ['rider-a', 'rider-b', 'rider-c', 'rider-d'];
  const messages = roundRobinMessages(total, devices);
  // Small record batches, as agents send them: a fetch returns whole batches.
  for (let i = 0; i < total; i += 20) await k.producer.send({ topic, messages: messages.slice(i, i + 20) });
  const flushes: number[] = [];
  const seen = new Set<string>();
  const group = await runGroup({
    kafka: k.kafka,
    groupId: 'fix-store',
    topic,
    sink: {
      async handleBatch(f) {
        flushes.push(f.length);
        for (const x of f) seen.add(`${x.deviceId}/${x.seq}`);
      },
    },
    flushRows: 1_000_000,
    flushMs: HOUR,
    commitIntervalMs: 50,
    // ~40 records a partition per fetch: the backlog takes dozens of fetches.
    maxBytesPerPartition: 2048,
    metrics,
    log: createLogger('test', 'silent'),
  });
  t.teardown(() => k.stop());
  // The partitions' ends, as the batches that reach them start being handled.
  const ends = new Map<number, number>();
  group.consumer.on(group.consumer.events.START_BATCH_PROCESS, (e) => {
    if (Number(e.payload.lastOffset) + 1 === Number(e.payload.highWatermark)) {
      ends.set(e.payload.partition, Number(e.payload.highWatermark));
    }
  });
  await waitFor(() => (ends.size === 2 && ends.get(0)! + ends.get(1)! === total ? true : undefined));
  // Only the last batches (nothing more behind them) wait for the timer.
  await waitFor(() => (seen.size >= total - 200 ? true : undefined));
  t.ok(flushes.length >= 10, `written in many flushes as the fetches came (${flushes.length})`);
  t.ok(seen.size < total, 'the last fetch waits for the timer, caught up');
  await group.stop(); // flushes what the last fetch left waiting, without waiting for the timer
  t.equal(seen.size, total, 'every fix handed to the sink');
  const offsets = await committed(k.admin, 'fix-store', topic);
  const c = (offsets.get(0) ?? 0) + (offsets.get(1) ?? 0);
  t.ok(c > 0 && c <= total, `offsets committed on the timer, never past the end (${c})`);
});
