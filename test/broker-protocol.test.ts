// Protocol details over the raw wire: ApiVersions advertises exactly the registry (v0 and the
// flexible v3 librdkafka sends), Metadata across versions and auto-creation settings,
// CreateTopics refusals, DescribeConfigs, DeleteTopics, and Fetch long poll / byte limits.
import t from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { Writer } from '../broker/protocol/codec.js';
import { ErrorCode } from '../broker/protocol/errors.js';
import { inProcessBroker } from './helpers/broker-harness.js';
import {
  batchOffsets,
  buildBatch,
  decodeFetchV11,
  decodeProduceV7,
  fetchBody,
  produceBody,
  RawClient,
} from './helpers/broker-raw.js';

t.test('ApiVersions advertises exactly the registered APIs', async (t) => {
  const b = await inProcessBroker(t);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const registered = [...b.context.apis.values()]
    .map((h) => [h.apiKey, h.minVersion, h.maxVersion])
    .sort((x, y) => x[0]! - y[0]!);
  const v0 = await c.request(ApiKey.ApiVersions, 0, Buffer.alloc(0));
  t.equal(v0.int16(), 0);
  t.same(
    v0.array((r) => [r.int16(), r.int16(), r.int16()]),
    registered,
    'v0 list',
  );
  const v3 = await c.request(
    ApiKey.ApiVersions,
    3,
    new Writer().compactString('librdkafka').compactString('2.0.2').taggedFields(),
    true,
  );
  t.equal(v3.int16(), 0);
  const list = v3.compactArray((r) => {
    const e = [r.int16(), r.int16(), r.int16()];
    r.taggedFields();
    return e;
  });
  t.same(list, registered, 'v3 (flexible) list');
  t.equal(v3.int32(), 0, 'throttle');
  v3.taggedFields();
  t.equal(v3.remaining, 0, 'nothing left over');
  for (const key of [0, 1, 2, 3, 18, 19, 20, 22, 32]) {
    t.ok(
      list.some(([k]) => k === key),
      `key ${key} served`,
    );
  }
});

t.test('Metadata: versions, all topics, auto-creation on and off', async (t) => {
  const b = await inProcessBroker(t, { autoCreateTopics: false });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  b.context.topics.create('known', 2);
  // v1: null = all topics.
  const all = await c.request(ApiKey.Metadata, 1, new Writer().int32(-1));
  const brokers = all.array((r) => [r.int32(), r.string(), r.int32(), r.nullableString()]);
  t.same(brokers, [[1, '127.0.0.1', b.port, null]], 'this broker');
  t.equal(all.int32(), 1, 'controller');
  const topics = all.array((r) => {
    const e = r.int16();
    const name = r.string();
    r.bool();
    const parts = r.array((r) => {
      const pe = r.int16();
      const idx = r.int32();
      const leader = r.int32();
      r.array((r) => r.int32());
      r.array((r) => r.int32());
      return [pe, idx, leader];
    });
    return { e, name, parts };
  });
  t.same(topics, [
    {
      e: 0,
      name: 'known',
      parts: [
        [0, 0, 1],
        [0, 1, 1],
      ],
    },
  ]);

  // v4 asking for an unknown topic with auto-creation allowed by the client but off in the broker.
  const unknown = await c.request(ApiKey.Metadata, 4, new Writer().int32(1).string('nope').bool(true));
  unknown.int32();
  unknown.array((r) => [r.int32(), r.string(), r.int32(), r.nullableString()]);
  unknown.nullableString();
  unknown.int32();
  const [t0] = unknown.array((r) => {
    const e = r.int16();
    r.string();
    r.bool();
    r.array(() => 0);
    return e;
  });
  t.equal(t0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'not created when the broker forbids it');
  t.notOk(b.context.topics.get('nope'));

  // v12 (flexible) parses and answers.
  const w = new Writer().compactArray([null], (w) => {
    w.uuid(null).compactNullableString('known').taggedFields();
  });
  w.bool(false).bool(false).taggedFields();
  const v12 = await c.request(ApiKey.Metadata, 12, w, true);
  v12.taggedFields(); // response header v1
  t.equal(v12.int32(), 0, 'v12 throttle');
  t.equal(
    v12.compactArray((r) => {
      r.int32();
      r.compactString();
      r.int32();
      r.compactNullableString();
      r.taggedFields();
      return 1;
    }).length,
    1,
  );
});

t.test('CreateTopics refusals, DescribeConfigs broker, DeleteTopics unknown', async (t) => {
  const b = await inProcessBroker(t);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const create = async (name: string, partitions: number, rf: number, configs: [string, string][] = []) => {
    const w = new Writer().int32(1).string(name).int32(partitions).int16(rf).int32(0);
    w.array(configs, (w, [k, v]) => w.string(k).nullableString(v));
    w.int32(1000).bool(false);
    const r = await c.request(ApiKey.CreateTopics, 4, w);
    r.int32();
    r.int32();
    r.string();
    return { code: r.int16(), message: r.nullableString() };
  };
  t.equal((await create('ok', 2, 1)).code, 0);
  t.equal((await create('ok', 2, 1)).code, ErrorCode.TOPIC_ALREADY_EXISTS);
  t.equal((await create('bad/name', 1, 1)).code, ErrorCode.INVALID_TOPIC_EXCEPTION);
  t.equal((await create('zero', 0, 1)).code, ErrorCode.INVALID_PARTITIONS);
  t.equal((await create('rf3', 1, 3)).code, ErrorCode.INVALID_REPLICATION_FACTOR);
  const badCfg = await create('cfg', 1, 1, [['retention.msec', '5']]);
  t.equal(badCfg.code, ErrorCode.INVALID_CONFIG);
  t.match(badCfg.message, /unsupported topic config 'retention.msec'/, 'names the bad key');
  const badVal = await create('cfg', 1, 1, [['retention.ms', 'soon']]);
  t.match(badVal.message, /retention.ms=soon must be an integer/);
  t.notOk(b.context.topics.get('cfg'), 'nothing created on refusal');

  const d = await c.request(
    ApiKey.DescribeConfigs,
    1,
    new Writer().array([0], (w) => w.int8(4).string('1').int32(-1)).bool(false),
  );
  d.int32();
  const [res] = d.array((r) => {
    const code = r.int16();
    r.nullableString();
    r.int8();
    r.string();
    const entries = r.array((r) => {
      const name = r.string();
      const value = r.nullableString();
      r.bool();
      r.int8();
      r.bool();
      r.array(() => 0);
      return [name, value];
    });
    return { code, entries: Object.fromEntries(entries) };
  });
  t.equal(res!.code, 0);
  t.equal(res!.entries['num.partitions'], '12', 'broker defaults described');

  const del = await c.request(
    ApiKey.DeleteTopics,
    1,
    new Writer().array(['ghost', 'ok'], (w, n) => w.string(n)).int32(1000),
  );
  del.int32();
  const codes = del.array((r) => [r.string(), r.int16()]);
  t.same(codes, [
    ['ghost', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ['ok', 0],
  ]);
  t.notOk(b.context.topics.get('ok'), 'deleted');
});

t.test(
  'topics named by id: Metadata v12 and DeleteTopics v6 find them; an unknown id is UNKNOWN_TOPIC_ID',
  async (t) => {
    const b = await inProcessBroker(t);
    const { id } = b.context.topics.create('by-id', 2);
    const ghost = '0123456789abcdef0123456789abcdef';
    const c = await RawClient.connect(b.port);
    t.teardown(() => c.close());

    const mw = new Writer().compactArray([id, ghost], (w, i) =>
      w.uuid(i).compactNullableString(null).taggedFields(),
    );
    mw.bool(false).bool(false).taggedFields();
    const m = await c.request(ApiKey.Metadata, 12, mw, true);
    m.taggedFields(); // response header v1
    m.int32(); // throttle
    m.compactArray((r) => {
      r.int32();
      r.compactString();
      r.int32();
      r.compactNullableString();
      r.taggedFields();
      return 0;
    });
    m.compactNullableString(); // cluster id
    m.int32(); // controller id
    const topics = m.compactArray((r) => {
      const errorCode = r.int16();
      const name = r.compactNullableString();
      const topicId = r.uuid();
      r.bool(); // is_internal
      const partitions = r.compactArray((r) => {
        r.int16();
        const index = r.int32();
        r.int32(); // leader
        r.int32(); // leader epoch
        for (let i = 0; i < 3; i++) r.compactArray((r) => r.int32()); // replicas, isr, offline
        r.taggedFields();
        return index;
      });
      r.int32(); // authorized operations
      r.taggedFields();
      return { errorCode, name, topicId, partitions };
    });
    m.taggedFields();
    t.equal(m.remaining, 0);
    t.same(topics, [
      { errorCode: ErrorCode.NONE, name: 'by-id', topicId: id, partitions: [0, 1] },
      { errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: ghost, partitions: [] },
    ]);

    const dw = new Writer().compactArray([ghost, id], (w, i) =>
      w.compactNullableString(null).uuid(i).taggedFields(),
    );
    dw.int32(1000).taggedFields();
    const d = await c.request(ApiKey.DeleteTopics, 6, dw, true);
    d.taggedFields(); // response header v1
    d.int32(); // throttle
    const deleted = d.compactArray((r) => {
      const name = r.compactNullableString();
      const topicId = r.uuid();
      const code = r.int16();
      r.compactNullableString();
      r.taggedFields();
      return [name, topicId, code];
    });
    t.same(deleted, [
      [null, ghost, ErrorCode.UNKNOWN_TOPIC_ID],
      ['by-id', id, ErrorCode.NONE],
    ]);
    t.notOk(b.context.topics.get('by-id'), 'deleted by id');
  },
);

t.test('Fetch long poll wakes on produce; byte limits return whole batches', async (t) => {
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  b.context.topics.create('lp', 1);
  const consumer = await RawClient.connect(b.port);
  const producer = await RawClient.connect(b.port);
  t.teardown(() => {
    consumer.close();
    producer.close();
  });
  // A 60 s max wait: the test's own timeout would fire long before, unless the append wakes it.
  const pending = consumer.request(ApiKey.Fetch, 11, fetchBody('lp', 0, 0, 60_000));
  await new Promise((r) => setTimeout(r, 50));
  const p = decodeProduceV7(
    await producer.request(ApiKey.Produce, 7, produceBody('lp', 0, buildBatch([{ value: 'wake' }]))),
  );
  t.equal(p.errorCode, 0);
  const f = decodeFetchV11(await pending);
  t.same(batchOffsets(f.records), [0], 'the long poll returned the new batch');

  for (let i = 1; i < 5; i++) {
    await producer.request(
      ApiKey.Produce,
      7,
      produceBody('lp', 0, buildBatch([{ value: Buffer.alloc(500, i) }])),
    );
  }
  // partition_max_bytes 100: smaller than one batch, still gets exactly one whole batch.
  const small = new Writer();
  small.int32(-1).int32(0).int32(1).int32(10_000_000).int8(0).int32(0).int32(-1);
  small.int32(1).string('lp').int32(1).int32(0).int32(-1).int64(1).int64(-1).int32(100);
  small.int32(0).string('');
  const one = decodeFetchV11(await consumer.request(ApiKey.Fetch, 11, small));
  t.same(batchOffsets(one.records), [1], 'one whole batch despite the small limit');
  const all = decodeFetchV11(await consumer.request(ApiKey.Fetch, 11, fetchBody('lp', 0, 2)));
  t.same(batchOffsets(all.records), [2, 3, 4], 'a large limit returns every batch from the offset');
});

t.test('acks=0 gets no response; the next request on the connection is answered in order', async (t) => {
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  b.context.topics.create('fire', 1);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  // Sent by hand: RawClient.request would wait for a response that never comes.
  const w = new Writer().int16(ApiKey.Produce).int16(7).int32(999).nullableString('raw');
  const body = produceBody('fire', 0, buildBatch([{ value: 'no ack' }]), 0).toBuffer();
  const frame = Buffer.concat([w.toBuffer(), body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length);
  c.write(Buffer.concat([size, frame]));
  // RawClient checks correlation ids: a stray response to 999 would fail this request. A long
  // poll: the batch is served once the broker's background fsync has made it durable.
  const f = decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody('fire', 0, 0, 10_000)));
  t.equal(f.highWatermark, 1, 'the acks=0 batch was stored');
  t.ok(f.records.includes(Buffer.from('no ack')));
});

t.test('advertised host and port are what Metadata tells clients', async (t) => {
  const b = await inProcessBroker(t, { advertisedHost: 'broker.fleet.internal', advertisedPort: 19092 });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const r = await c.request(ApiKey.Metadata, 1, new Writer().int32(-1));
  t.same(
    r.array((r) => [r.int32(), r.string(), r.int32(), r.nullableString()]),
    [[1, 'broker.fleet.internal', 19092, null]],
  );
  t.same(b.advertised, { nodeId: 1, host: 'broker.fleet.internal', port: 19092 });
});
