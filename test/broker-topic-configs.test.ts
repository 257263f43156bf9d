// Topic configs as clients see them: where DescribeConfigs and CreateTopics (v5+) say each value
// comes from (Kafka's config_source), long configs up to Long.MAX_VALUE, and the topic-changing
// APIs this broker does not serve (AlterConfigs, IncrementalAlterConfigs, CreatePartitions,
// DeleteRecords).
import t from 'tap';
import { parseArgs } from '../broker/cli.js';
import { brokerConfig } from '../broker/config.js';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { Writer } from '../broker/protocol/codec.js';
import { inProcessBroker, kafka, tempDir } from './helpers/broker-harness.js';
import { RawClient } from './helpers/broker-raw.js';

// Kafka's ConfigSource ids, written out so a wrong constant in the broker cannot pass.
const TOPIC_CONFIG = 1;
const STATIC_BROKER_CONFIG = 4;
const DEFAULT_CONFIG = 5;

type Sources = Record<string, [value: string | null, source: number]>;

/** The entries of `all` named in `expected`, to compare exactly (t.match takes substrings). */
const pick = (all: Sources, expected: Sources): Sources =>
  Object.fromEntries(Object.keys(expected).map((k) => [k, all[k]!]));

async function describe(address: string, type: 2 | 4, name: string): Promise<Sources> {
  const admin = kafka(address).admin();
  await admin.connect();
  try {
    const res = await admin.describeConfigs({ resources: [{ type, name }], includeSynonyms: false });
    return Object.fromEntries(
      res.resources[0]!.configEntries.map((e) => [e.configName, [e.configValue, e.configSource]]),
    );
  } finally {
    await admin.disconnect();
  }
}

/** CreateTopics v5 (flexible): the configs its response describes, by name. */
async function createV5(port: number, name: string, configs: [string, string][]): Promise<Sources> {
  const c = await RawClient.connect(port);
  try {
    const w = new Writer().compactArray([name], (w, n) => {
      w.compactString(n)
        .int32(1)
        .int16(1)
        .compactArray([], () => {});
      w.compactArray(configs, (w, [k, v]) => w.compactString(k).compactNullableString(v).taggedFields());
      w.taggedFields();
    });
    w.int32(5000).bool(false).taggedFields();
    const r = await c.request(ApiKey.CreateTopics, 5, w, true);
    r.taggedFields(); // response header v1
    r.int32(); // throttle
    const [topic] = r.compactArray((r) => {
      r.compactString();
      const errorCode = r.int16();
      r.compactNullableString();
      r.int32();
      r.int16();
      const entries = r.compactNullableArray((r) => {
        const entry = [r.compactString(), r.compactNullableString()] as const;
        r.bool(); // read_only
        const source = r.int8();
        r.bool(); // is_sensitive
        r.taggedFields();
        return [entry[0], [entry[1], source]] as [string, [string | null, number]];
      });
      r.taggedFields();
      return { errorCode, entries };
    });
    if (topic!.errorCode !== 0) throw new Error(`CreateTopics v5 ${name}: error ${topic!.errorCode}`);
    return Object.fromEntries(topic!.entries ?? []);
  } finally {
    c.close();
  }
}

t.test(
  'config source: topic config 1, a broker default the operator set 4 (even at the built-in value), else 5',
  async (t) => {
    const b = await inProcessBroker(t, {
      // segment.bytes differs from the built-in 64 MiB; retention.ms is set to the built-in 7 days.
      topicDefaults: { segmentBytes: 1 << 20, retentionMs: 7 * 24 * 3600 * 1000 },
      defaultPartitions: 3,
    });
    const admin = kafka(b.address).admin();
    await admin.connect();
    t.teardown(() => admin.disconnect());
    await admin.createTopics({
      topics: [
        { topic: 'mixed', numPartitions: 1, configEntries: [{ name: 'retention.bytes', value: '5000' }] },
      ],
    });
    const expected: Sources = {
      'retention.bytes': ['5000', TOPIC_CONFIG],
      'segment.bytes': [String(1 << 20), STATIC_BROKER_CONFIG],
      'retention.ms': [String(7 * 24 * 3600 * 1000), STATIC_BROKER_CONFIG],
      'max.message.bytes': [String(1024 * 1024 + 12), DEFAULT_CONFIG],
      'cleanup.policy': ['delete', DEFAULT_CONFIG],
      'compression.type': ['producer', DEFAULT_CONFIG],
    };
    t.same(pick(await describe(b.address, 2, 'mixed'), expected), expected, 'DescribeConfigs on the topic');
    t.same(
      pick(await createV5(b.port, 'mixed-v5', [['retention.bytes', '5000']]), expected),
      expected,
      'the CreateTopics v5 response says the same',
    );

    t.same(
      await describe(b.address, 4, '1'),
      {
        'log.segment.bytes': [String(1 << 20), STATIC_BROKER_CONFIG],
        'log.retention.ms': [String(7 * 24 * 3600 * 1000), STATIC_BROKER_CONFIG],
        'log.retention.bytes': ['-1', DEFAULT_CONFIG],
        'message.max.bytes': [String(1024 * 1024 + 12), DEFAULT_CONFIG],
        'num.partitions': ['3', STATIC_BROKER_CONFIG],
        'auto.create.topics.enable': ['true', DEFAULT_CONFIG],
      },
      'DescribeConfigs on the broker',
    );
  },
);

t.test('a broker started without options describes every default as DEFAULT_CONFIG', async (t) => {
  const b = await inProcessBroker(t);
  b.context.topics.create('plain', 1);
  const topic = await describe(b.address, 2, 'plain');
  t.same(
    Object.entries(topic).filter(([, [, source]]) => source !== DEFAULT_CONFIG),
    [],
    'no topic value is from the topic or the operator',
  );
  const broker = await describe(b.address, 4, '1');
  t.same(
    Object.entries(broker).filter(([, [, source]]) => source !== DEFAULT_CONFIG),
    [],
    'no broker value is from the operator',
  );
});

t.test('the command line: only the flags given count as set by the operator', async (t) => {
  const opts = parseArgs(['--data-dir', 'd', '--segment-bytes', '1048576', '--auto-create-topics', 'true']);
  t.same(
    [...brokerConfig(opts!).operatorSet].sort(),
    ['autoCreateTopics', 'segmentBytes'],
    'a flag at its default value still counts; the rest are built-in',
  );
});

t.test(
  'Long.MAX_VALUE retention (Kafka for "forever") is accepted, described as given, and keeps the data',
  async (t) => {
    const LONG_MAX = '9223372036854775807';
    const dataDir = tempDir(t);
    const opts = { dataDir, retentionCheckMs: 20, topicDefaults: { segmentBytes: 1024 } };
    let b = await inProcessBroker(t, opts);
    const client = kafka(b.address);
    const admin = client.admin();
    await admin.connect();
    t.equal(
      await admin.createTopics({
        topics: [
          {
            topic: 'forever',
            numPartitions: 1,
            configEntries: [
              { name: 'retention.ms', value: LONG_MAX },
              { name: 'retention.bytes', value: LONG_MAX },
            ],
          },
          // Just past 2^53: a double would round it to ...992.
          {
            topic: 'odd',
            numPartitions: 1,
            configEntries: [{ name: 'retention.ms', value: '9007199254740993' }],
          },
        ],
      }),
      true,
      'CreateTopics accepts both',
    );
    const producer = client.producer();
    await producer.connect();
    // Records from 1970, in many 1 KiB segments: anything short of "forever" would delete them.
    for (let i = 0; i < 20; i++) {
      await producer.send({
        topic: 'forever',
        acks: -1,
        messages: [{ value: Buffer.alloc(300, i), timestamp: String(1000 + i) }],
      });
    }
    await producer.disconnect();
    await admin.disconnect();
    const log = b.context.topics.partition('forever', 0)!;
    t.ok(log.segmentCount > 3, `${log.segmentCount} segments`);
    t.equal(b.context.topics.get('forever')!.config.retentionMs, Number.MAX_SAFE_INTEGER, 'acts as 2^53-1');
    await new Promise((r) => setTimeout(r, 200)); // ten retention passes
    t.equal(log.logStartOffset, 0, 'retention removed nothing');
    t.equal(b.context.topics.enforceRetention(Date.now()), 0, 'nor does a pass run by hand');

    const expected: Sources = {
      'retention.ms': [LONG_MAX, TOPIC_CONFIG],
      'retention.bytes': [LONG_MAX, TOPIC_CONFIG],
    };
    t.same(pick(await describe(b.address, 2, 'forever'), expected), expected, 'described as given');
    t.same(
      pick(await describe(b.address, 2, 'odd'), { 'retention.ms': ['9007199254740993', TOPIC_CONFIG] }),
      { 'retention.ms': ['9007199254740993', TOPIC_CONFIG] },
      'not rounded',
    );

    await b.stop();
    b = await inProcessBroker(t, opts);
    t.same(pick(await describe(b.address, 2, 'forever'), expected), expected, 'and after a restart');
    t.equal(b.context.topics.partition('forever', 0)!.logEndOffset, 20, 'every record still there');
    t.equal(b.context.topics.enforceRetention(Date.now()), 0, 'retention still removes nothing');

    const tooBig = () => b.context.topics.create('past-long', 1, { 'retention.ms': '9223372036854775808' });
    t.throws(
      tooBig,
      /retention.ms=9223372036854775808 must be an integer from -1 to 9223372036854775807/,
      'past Long.MAX_VALUE refused, naming the range',
    );
    t.throws(
      () => b.context.topics.create('neg', 1, { 'retention.bytes': '-2' }),
      /must be an integer from -1/,
      'below -1 still refused',
    );
  },
);

t.test(
  'AlterConfigs, IncrementalAlterConfigs, CreatePartitions, DeleteRecords: not advertised, refused by clients, topic untouched',
  async (t) => {
    const unsupported = {
      DeleteRecords: 21,
      AlterConfigs: 33,
      CreatePartitions: 37,
      IncrementalAlterConfigs: 44,
    };
    const b = await inProcessBroker(t);
    const admin = kafka(b.address).admin();
    await admin.connect();
    t.teardown(() => admin.disconnect());
    await admin.createTopics({
      topics: [
        { topic: 'fixed', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
      ],
    });
    const producer = kafka(b.address).producer();
    await producer.connect();
    await producer.send({
      topic: 'fixed',
      messages: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 0 },
      ],
    });
    await producer.disconnect();

    const c = await RawClient.connect(b.port);
    const v0 = await c.request(ApiKey.ApiVersions, 0, Buffer.alloc(0));
    v0.int16();
    const keys = v0.array((r) => [r.int16(), r.int16(), r.int16()][0]!);
    for (const [name, key] of Object.entries(unsupported))
      t.notOk(keys.includes(key), `${name} not advertised`);

    // kafkajs looks the API up in ApiVersions and refuses before sending anything (the error
    // comes wrapped in a KafkaJSNonRetriableError where kafkajs retries the call).
    const refused = async (call: Promise<unknown>, apiName: string) => {
      const e = (await call.then(
        () => null,
        (err: unknown) => err,
      )) as { name?: string; apiName?: string; cause?: { name?: string; apiName?: string } } | null;
      const inner = e?.name === 'KafkaJSServerDoesNotSupportApiKey' ? e : e?.cause;
      t.same(
        [inner?.name, inner?.apiName],
        ['KafkaJSServerDoesNotSupportApiKey', apiName],
        `${apiName}: kafkajs says the server does not support it`,
      );
    };
    await refused(
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: 'fixed', configEntries: [{ name: 'retention.ms', value: '1' }] }],
      }),
      'AlterConfigs',
    );
    await refused(
      admin.createPartitions({ topicPartitions: [{ topic: 'fixed', count: 4 }] }),
      'CreatePartitions',
    );
    await refused(
      admin.deleteTopicRecords({ topic: 'fixed', partitions: [{ partition: 0, offset: '1' }] }),
      'DeleteRecords',
    );

    // A client that sends one anyway (an unknown API key) has its connection closed, as Kafka does.
    void c.request(unsupported.IncrementalAlterConfigs, 0, Buffer.alloc(0));
    await c.closed;
    t.pass('IncrementalAlterConfigs closed the connection');

    t.equal(b.context.topics.get('fixed')!.partitions.length, 2, 'still 2 partitions');
    t.equal(b.context.topics.get('fixed')!.config.retentionMs, 3600000, 'retention.ms as created');
    t.equal(b.context.topics.partition('fixed', 0)!.logStartOffset, 0, 'no record deleted');
  },
);

t.test('CreateTopics validateOnly makes every check a create makes, and creates nothing', async (t) => {
  const b = await inProcessBroker(t);
  const admin = kafka(b.address).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  const check = (
    topic: string,
    numPartitions: number,
    configEntries: { name: string; value: string }[] = [],
  ) =>
    // waitForLeaders: kafkajs would wait for the topic a validation does not create.
    admin
      .createTopics({
        validateOnly: true,
        waitForLeaders: false,
        topics: [{ topic, numPartitions, configEntries }],
      })
      .then(
        () => 'ok',
        (e: { errors?: { type: string; message: string }[]; message: string }) =>
          e.errors?.map((x) => x.type).join() ?? e.message,
      );
  t.equal(
    await check('fine', 3, [{ name: 'retention.ms', value: '60000' }]),
    'ok',
    'a create that would work',
  );
  t.notOk(b.context.topics.get('fine'), 'and nothing created');
  // Before, validateOnly looked only at the replication factor and whether the name was taken.
  t.equal(await check('bad name!', 1), 'INVALID_TOPIC_EXCEPTION', 'a name Kafka refuses');
  t.equal(await check('fine', 100_000), 'INVALID_PARTITIONS', 'too many partitions');
  t.equal(
    await check('fine', 1, [{ name: 'retention.ms', value: 'soon' }]),
    'INVALID_CONFIG',
    'a bad config value',
  );
  t.equal(
    await check('fine', 1, [{ name: 'no.such.config', value: '1' }]),
    'INVALID_CONFIG',
    'an unknown config',
  );
  t.equal(
    await check('fine', 1, [{ name: 'max.message.bytes', value: '3000000000' }]),
    'INVALID_CONFIG',
    'max.message.bytes beyond a Kafka int',
  );
  // (A name already taken is TOPIC_ALREADY_EXISTS too, which kafkajs answers as false, not an error.)
});
