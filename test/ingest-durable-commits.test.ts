// A store group fetches and decodes on while a flush is being written (durable-commits.ts), and
// still commits nothing that is not stored; what it holds unwritten is bounded. Real embedded
// broker and kafkajs; a sink held on a gate stands for a slow write.
import t from 'tap';
import { runGroup } from '../ingest/consumer/runner.js';
import type { FixSink } from '../ingest/consumer/sink.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import type { Fix } from '../shared/fix.js';
import { encodeFix } from '../shared/fixcodec.js';
import { createLogger } from '../shared/log.js';
import { makeFix } from './helpers/ingest-backends.js';
import { committed, startTestBroker, waitFor } from './helpers/ingest-kafka.js';

const TOPIC = 'gps.fixes';
const consumed = async (m: ReturnType<typeof createIngestMetrics>) =>
  (await m.consumedFixes.get()).values[0]?.value ?? 0;

t.test('the consumer reads on while a flush is written, up to twice flushRows unwritten', async (t) => {
  const k = await startTestBroker();
  await k.createTopic(TOPIC, 2);
  const total = 3000;
  const devices = ['rider-a', 'rider-b', 'rider-c', 'rider-d'];
  const messages = Array.from({ length: total }, (_, i) => {
    const f = makeFix(devices[i % devices.length]!, Math.floor(i / devices.length) + 1);
    return { key: f.deviceId, value: encodeFix(f) };
  });
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
