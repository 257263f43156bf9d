// kafkajs 2.2 against the broker: idempotent producer with acks=-1, admin (create/describe/
// metadata/offsets/delete), and a consumer group reading everything back in order.
import t from 'tap';
import { inProcessBroker, kafka } from './helpers/broker-harness.js';

t.test('idempotent producer, admin and consumer group round trip', async (t) => {
  const b = await inProcessBroker(t);
  const client = kafka(b.address);
  const admin = client.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());

  t.equal(
    await admin.createTopics({
      topics: [
        { topic: 'fixes', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
      ],
      waitForLeaders: true,
    }),
    true,
    'topic created',
  );
  t.equal(
    await admin.createTopics({ topics: [{ topic: 'fixes', numPartitions: 3 }] }),
    false,
    'second create is a no-op',
  );

  const meta = await admin.fetchTopicMetadata({ topics: ['fixes'] });
  t.equal(meta.topics[0]?.partitions.length, 3, 'three partitions in metadata');
  t.same(
    meta.topics[0]?.partitions.map((p) => p.leader),
    [1, 1, 1],
    'this broker leads every partition',
  );

  const configs = await admin.describeConfigs({
    resources: [{ type: 2, name: 'fixes', configNames: ['retention.ms', 'segment.bytes'] }],
    includeSynonyms: false,
  });
  const entries = Object.fromEntries(
    configs.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]),
  );
  t.equal(entries['retention.ms'], '3600000', 'topic override described');
  t.equal(entries['segment.bytes'], String(64 * 1024 * 1024), 'default described');

  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const sent: { key: string; value: string }[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const messages = Array.from({ length: 50 }, (_, i) => ({
      key: `dev-${i % 7}`,
      value: `fix-${batch}-${i}`,
    }));
    sent.push(...messages);
    const res = await producer.send({ topic: 'fixes', acks: -1, messages });
    t.ok(
      res.every((r) => r.errorCode === 0),
      `batch ${batch} acknowledged`,
    );
  }

  const offsets = await admin.fetchTopicOffsets('fixes');
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  t.equal(total, sent.length, 'latest minus earliest offsets add up to what was sent');

  const consumer = client.consumer({ groupId: 'kafkajs-test', maxWaitTimeInMs: 200 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'fixes', fromBeginning: true });
  const got: { key: string; value: string; partition: number; offset: number }[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message, partition }) => {
          got.push({
            key: message.key!.toString(),
            value: message.value!.toString(),
            partition,
            offset: Number(message.offset),
          });
          if (got.length === sent.length) resolve();
        },
      })
      .catch(reject);
  });
  t.equal(got.length, sent.length, 'every message consumed once');
  t.same(new Set(got.map((g) => g.value)).size, sent.length, 'no duplicates');
  // Same key, same partition, in send order.
  for (const key of new Set(sent.map((s) => s.key))) {
    const expected = sent.filter((s) => s.key === key).map((s) => s.value);
    const actual = got.filter((g) => g.key === key).map((g) => g.value);
    t.same(actual, expected, `${key} in order`);
    t.equal(
      new Set(got.filter((g) => g.key === key).map((g) => g.partition)).size,
      1,
      `${key} on one partition`,
    );
  }
  await consumer.disconnect();

  await admin.deleteTopics({ topics: ['fixes'] });
  const after = await admin.listTopics();
  t.notOk(after.includes('fixes'), 'topic deleted');
});

t.test('fetchTopicOffsetsByTimestamp finds the first batch at or after a time', async (t) => {
  const b = await inProcessBroker(t);
  const client = kafka(b.address);
  const admin = client.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'times', numPartitions: 1 }] });
  const producer = client.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await producer.send({ topic: 'times', messages: [{ value: 'old', timestamp: '1000' }] });
  await producer.send({ topic: 'times', messages: [{ value: 'mid', timestamp: '2000' }] });
  await producer.send({ topic: 'times', messages: [{ value: 'new', timestamp: '3000' }] });
  const at = async (ts: number) => (await admin.fetchTopicOffsetsByTimestamp('times', ts))[0]!.offset;
  t.equal(await at(1500), '1', 'between first and second');
  t.equal(await at(2000), '1', 'exact timestamp');
  t.equal(await at(500), '0', 'before everything');
  // The broker answers -1 (no such record) as Kafka does; kafkajs turns that into the high watermark.
  t.equal(await at(9000), '3', 'after everything: the end of the log');
});
