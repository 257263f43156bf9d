// Consumer lag as the gauge reports it: high watermark minus the group's committed offset, per
// partition; a partition the group never committed counts from the earliest retained offset.
import t from 'tap';
import { measureLag, pollLag } from '../ingest/consumer/lag.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import { createLogger } from '../shared/log.js';
import { startTestBroker, waitFor } from './helpers/ingest-kafka.js';

t.test('lag per partition from the broker', async (t) => {
  const k = await startTestBroker();
  t.teardown(() => k.stop());
  await k.createTopic('lagging', 3);
  await k.producer.send({
    topic: 'lagging',
    messages: [
      ...Array.from({ length: 10 }, () => ({ partition: 0, value: 'x' })),
      ...Array.from({ length: 4 }, () => ({ partition: 1, value: 'x' })),
    ],
  });
  await k.admin.setOffsets({ groupId: 'g', topic: 'lagging', partitions: [{ partition: 0, offset: '7' }] });
  const lag = (await measureLag(k.admin, 'g', 'lagging')).sort((a, b) => a.partition - b.partition);
  t.same(lag, [
    { partition: 0, lag: 3 },
    { partition: 1, lag: 4 },
    { partition: 2, lag: 0 },
  ]);

  const metrics = createIngestMetrics();
  const stop = pollLag(k.admin, ['g'], 'lagging', metrics, createLogger('test', 'silent'), 60_000);
  t.teardown(stop);
  const values = await waitFor(async () => {
    const v = (await metrics.consumerLag.get()).values;
    return v.length === 3 ? v : undefined;
  });
  t.same(
    Object.fromEntries(values.map((v) => [v.labels.partition, v.value])),
    { '0': 3, '1': 4, '2': 0 },
    'the gauge carries group, topic and partition',
  );
  t.equal(values[0]?.labels.group, 'g');
  // When it was measured, so a figure kept while the broker does not answer can be told stale.
  const updated = (await metrics.lagUpdated.get()).values;
  t.equal(updated.length, 1);
  t.equal(updated[0]?.labels.group, 'g');
  t.ok(Math.abs(updated[0]!.value - Date.now() / 1000) < 60, 'measured just now (unix seconds)');
});
