// Commits never run ahead of the database: with flushes failing now and then while later
// batches are already handed over (durable-commits.ts), the group's committed offset, whenever it is looked at, covers only
// fixes already stored, and every fix is stored in the end. Real embedded broker and kafkajs; the
// sink is an in-memory one that the test fails on purpose (the database backends have their own
// suite, and a real outage is in ingest-groups.test.ts).
import t from 'tap';
import { runGroup } from '../ingest/consumer/runner.js';
import type { FixSink } from '../ingest/consumer/sink.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import type { Fix } from '../shared/fix.js';
import { encodeFix } from '../shared/fixcodec.js';
import { createLogger } from '../shared/log.js';
import { makeFix } from './helpers/ingest-backends.js';
import { committed, startTestBroker } from './helpers/ingest-kafka.js';

const TOPIC = 'gps.fixes';

/** Seqs 1..n of device `d` on partition 0, in `per`-record produce requests (one batch each). */
async function produceSeqs(k: Awaited<ReturnType<typeof startTestBroker>>, n: number, per: number) {
  for (let s = 1; s <= n; s += per) {
    const seqs = Array.from({ length: Math.min(per, n - s + 1) }, (_, i) => s + i);
    await k.producer.send({
      topic: TOPIC,
      acks: -1,
      messages: seqs.map((q) => ({ key: 'd', partition: 0, value: encodeFix(makeFix('d', q)) })),
    });
  }
}

t.test('a failed flush is read again; no commit ever passes a fix that is not stored', async (t) => {
  const k = await startTestBroker();
  await k.createTopic(TOPIC, 1);
  const N = 300;
  await produceSeqs(k, N, 7);
  const stored = new Set<number>();
  let calls = 0;
  let failures = 0;
  const sink: FixSink = {
    async handleBatch(fixes: readonly Fix[]) {
      calls++;
      await new Promise((r) => setTimeout(r, 3));
      // Two outages, each failing one flush while later batches are already in the pipeline.
      if (calls === 3 || calls === 9) {
        failures++;
        throw new Error('database went away');
      }
      for (const f of fixes) stored.add(f.seq);
    },
  };
  const metrics = createIngestMetrics();
  const group = await runGroup({
    kafka: k.kafka,
    groupId: 'pipe-fail',
    topic: TOPIC,
    sink,
    flushRows: 20,
    flushMs: 5,
    metrics,
    log: createLogger('test', 'silent'),
  });
  t.teardown(async () => {
    await group.stop();
    await k.stop();
  });
  // Watch the committed offset: whenever it is seen, every seq below it (offset = seq - 1) must
  // already be stored, since a commit follows the write.
  const violations: string[] = [];
  let last = -1;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const c = (await committed(k.admin, 'pipe-fail', TOPIC)).get(0) ?? -1;
    for (let seq = 1; seq <= c; seq++) {
      if (!stored.has(seq)) violations.push(`committed ${c} but seq ${seq} not stored`);
    }
    if (c < last) violations.push(`commit went back from ${last} to ${c}`);
    last = c;
    if (c === N || violations.length > 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  t.same(violations, [], 'the committed offset never ran ahead of the stored fixes');
  t.equal(failures, 2, 'both failures happened');
  t.equal(stored.size, N, 'every fix stored in the end');
  t.ok(((await metrics.sinkErrors.get()).values[0]?.value ?? 0) >= 2, 'failed flushes counted');
  t.equal(group.state().joins, 1, 'read again by the same member: no crash, no rebalance');
});

t.test('a batch being written when stop() comes is committed before the member leaves', async (t) => {
  const k = await startTestBroker();
  t.teardown(() => k.stop());
  await k.createTopic(TOPIC, 1);
  const N = 10;
  await produceSeqs(k, N, N);
  let inHand!: () => void;
  const called = new Promise<void>((r) => {
    inHand = r;
  });
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const stored: number[] = [];
  const sink: FixSink = {
    async handleBatch(fixes: readonly Fix[]) {
      inHand();
      await gate;
      for (const f of fixes) stored.push(f.seq);
    },
  };
  const group = await runGroup({
    kafka: k.kafka,
    groupId: 'stop-in-hand',
    topic: TOPIC,
    sink,
    flushRows: 100,
    flushMs: 5,
    metrics: createIngestMetrics(),
    log: createLogger('test', 'silent'),
  });
  await called;
  const stopped = group.stop();
  // kafkajs has stopped fetching (isRunning() is false) while the write is still in progress.
  await new Promise((r) => setTimeout(r, 200));
  release();
  await stopped;
  t.equal(stored.length, N, 'the batch was written');
  t.equal(
    (await committed(k.admin, 'stop-in-hand', TOPIC)).get(0),
    N,
    'and committed: a restart does not read it again',
  );
});
