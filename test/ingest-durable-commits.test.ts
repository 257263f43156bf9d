// A store group fetches and decodes on while a flush is being written (durable-commits.ts), and
// still commits nothing that is not stored; what it holds unwritten is bounded. Real embedded
// broker and kafkajs; a sink held on a gate stands for a slow write.
import t from 'tap';
import { DurableCommits } from '../ingest/consumer/durable-commits.js';
import { FlushBuffer } from '../ingest/consumer/flush-buffer.js';
import { runGroup } from '../ingest/consumer/runner.js';
import type { FixSink } from '../ingest/consumer/sink.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import type { Fix } from '../shared/fix.js';
import { createLogger } from '../shared/log.js';
import { makeFix, roundRobinMessages } from './helpers/ingest-backends.js';
import { committed, startTestBroker, waitFor } from './helpers/ingest-kafka.js';

const TOPIC = 'gps.fixes';
const HOUR = 3_600_000;
const consumed = async (m: ReturnType<typeof createIngestMetrics>) =>
  (await m.consumedFixes.get()).values[0]?.value ?? 0;

t.test('the consumer reads on while a flush is written, up to twice flushRows unwritten', async (t) => {
  const k = await startTestBroker();
  await k.createTopic(TOPIC, 2);
  const total = 3000;
  const devices = ['rider-a', 'rider-b', 'rider-c', 'rider-d'];
  const messages = roundRobinMessages(total, devices);
  for (let i = 0; i < total; i += 50)
    await k.producer.send({ topic: TOPIC, messages: messages.slice(i, i + 50) });
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const flushes: number[] = [];
  const stored = new Set<string>();
  const sink: FixSink = {
    async handleBatch(fixes: readonly Fix[]) {
      flushes.push(fixes.length);
      await gate;
      for (const f of fixes) stored.add(`${f.deviceId}/${f.seq}`);
    },
  };
  const metrics = createIngestMetrics();
  const flushRows = 400;
  const group = await runGroup({
    kafka: k.kafka,
    groupId: 'fix-store',
    topic: TOPIC,
    sink,
    flushRows,
    flushMs: 20,
    // Small fetches (~40 records a partition): many fetches happen while the first flush waits.
    maxBytesPerPartition: 2048,
    metrics,
    log: createLogger('test', 'silent'),
  });
  t.teardown(() => k.stop());
  // The first flush is being written (held): the consumer goes on reading.
  await waitFor(async () => ((await consumed(metrics)) >= 2 * flushRows ? true : undefined));
  // And then stops, its unwritten fixes bounded: 2 x flushRows, plus the last fetch's batches
  // (each adds its fixes before it waits for room).
  await new Promise((r) => setTimeout(r, 500));
  const held = await consumed(metrics);
  t.ok(held <= 2 * flushRows + 200, `it stopped reading with ${held} fixes unwritten`);
  t.ok(flushes.length >= 1 && stored.size === 0, 'while the first flush was still being written');
  const before = await committed(k.admin, 'fix-store', TOPIC);
  t.same(
    [...before.values()].filter((o) => o > 0),
    [],
    'nothing committed: nothing is stored yet',
  );
  release();
  await waitFor(() => (stored.size === total ? true : undefined));
  await waitFor(async () => {
    const c = await committed(k.admin, 'fix-store', TOPIC);
    return (c.get(0) ?? 0) + (c.get(1) ?? 0) === total ? true : undefined;
  });
  t.pass('every fix stored, then every offset committed');
  t.equal(group.state().joins, 1, 'one join: no crash, no rebalance');
  await group.stop();
});

/** A promise settled from outside, as a flush is. */
function flush() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const p = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { p, resolve, reject };
}
const turn = () => new Promise((r) => setImmediate(r));

function commitsOf() {
  const commits: string[] = [];
  const rewinds: string[] = [];
  const owned = new Set([0, 1]);
  const d = new DurableCommits({
    commit: async (offsets) => {
      commits.push(offsets.map((o) => `${o.partition}@${o.offset}`).join(','));
    },
    owns: (p) => owned.has(p),
    rewind: (positions, pauseMs) => {
      rewinds.push(`${positions.map((o) => `${o.partition}@${o.offset}`).join(',')} after ${pauseMs}`);
    },
    commitFailed: () => undefined,
    backoffMs: { first: 100, max: 400 },
  });
  return { d, commits, rewinds, owned };
}

t.test('offsets are committed in batch order per partition, whatever order the flushes end in', async (t) => {
  const { d, commits } = commitsOf();
  const a = flush();
  const b = flush();
  const c = flush();
  d.track(0, '0', '10', 10, a.p);
  d.track(0, '10', '20', 10, b.p);
  d.track(1, '0', '5', 5, c.p);
  b.resolve();
  await turn();
  t.same(commits, [], 'the later batch is durable, the earlier not: nothing committed');
  c.resolve();
  await turn();
  t.same(commits, ['1@5'], 'the other partition goes on its own');
  a.resolve();
  await d.settled();
  t.same(commits.slice(1), ['0@10', '0@20'], 'then partition 0, in order');
});

t.test(
  'a failed flush rewinds every partition to its first fix not durable, with a doubling backoff',
  async (t) => {
    const { d, commits, rewinds } = commitsOf();
    const a = flush();
    const b = flush();
    const c = flush();
    d.track(0, '0', '10', 10, a.p);
    d.track(1, '0', '5', 5, c.p);
    c.resolve();
    await turn();
    d.track(0, '10', '20', 10, b.p);
    a.reject(new Error('disk full'));
    b.resolve();
    await d.settled();
    t.same(commits, ['1@5'], 'the batch after the failed one is durable but never committed');
    t.same(rewinds, ['0@0,1@5 after 100'], 'both partitions read again from their durable point');
    // Read again, failing again: the backoff doubles; then it works.
    const a2 = flush();
    d.track(0, '0', '10', 10, a2.p);
    a2.reject(new Error('disk full'));
    await d.settled();
    t.same(rewinds.at(-1), '0@0,1@5 after 200', 'the backoff doubled');
    const a3 = flush();
    d.track(0, '0', '20', 20, a3.p);
    a3.resolve();
    await d.settled();
    t.same(commits, ['1@5', '0@20'], 'once a flush works, its offsets are committed');
  },
);

t.test(
  'after a rebalance nothing handed over before is committed; nor is a partition now elsewhere',
  async (t) => {
    const { d, commits, owned } = commitsOf();
    const a = flush();
    d.track(0, '0', '10', 10, a.p);
    d.reset();
    a.resolve();
    await d.settled();
    t.same(commits, [], 'the batch of the old generation is not committed');
    owned.delete(1);
    const b = flush();
    const c = flush();
    d.track(1, '0', '5', 5, b.p);
    d.track(0, '0', '7', 7, c.p);
    b.resolve();
    c.resolve();
    await d.settled();
    t.same(commits, ['0@7'], 'only the partition this member still holds');
  },
);

t.test('room() holds the consumer while too many fixes are unwritten', async (t) => {
  const { d } = commitsOf();
  const a = flush();
  d.track(0, '0', '100', 100, a.p);
  let through = false;
  const waiting = d.room(50).then(() => {
    through = true;
  });
  await turn();
  t.notOk(through, '100 unwritten over a limit of 50: held');
  a.reject(new Error('away'));
  await waiting;
  t.ok(through, 'released once the flush settled, failed or not');
});

t.test('FlushBuffer.discard(): the flush being written completes, the rest is never written', async (t) => {
  const written: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const buffer = new FlushBuffer(
    async (fixes) => {
      await gate;
      written.push(fixes.map((f) => f.seq));
    },
    2,
    HOUR,
  );
  const fixes = (from: number, n: number) => Array.from({ length: n }, (_, i) => makeFix('d', from + i));
  const first = buffer.add(fixes(1, 2)); // cut at once, held on the gate
  const queued = buffer.add(fixes(3, 2)); // cut, waiting its turn
  const pending = buffer.add(fixes(5, 1)); // waits for a second row
  // Caught from now: each rejects before the test awaits it.
  const why = (p: Promise<void>) =>
    p.then(
      () => 'written',
      (e: Error) => e.message,
    );
  const queuedOutcome = why(queued);
  const pendingOutcome = why(pending);
  await turn(); // the first flush is being written now (held on the gate)
  buffer.discard(new Error('read again'));
  release();
  await first;
  t.match(await queuedOutcome, /discarded/, 'the flush not yet started is not written');
  t.equal(await pendingOutcome, 'read again', 'nor the fixes not yet in a flush');
  t.same(written, [[1, 2]], 'only the flush in progress was written');
  const after = buffer.add(fixes(7, 2));
  release();
  await after;
  t.same(
    written,
    [
      [1, 2],
      [7, 8],
    ],
    'and the buffer goes on afterwards',
  );
});
