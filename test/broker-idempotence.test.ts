// Idempotent produce over the raw wire: a retried batch (same producer id, epoch, sequence) is
// acked with its original offset and stored once; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; a stale
// epoch is refused. The state survives a clean restart and a kill -9.
import t from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { Writer } from '../broker/protocol/codec.js';
import { ErrorCode } from '../broker/protocol/errors.js';
import { childBroker, inProcessBroker, tempDir } from './helpers/broker-harness.js';
import {
  batchOffsets,
  buildBatch,
  decodeFetchV11,
  decodeProduceV7,
  fetchBody,
  produceBody,
  RawClient,
} from './helpers/broker-raw.js';

async function initProducerId(c: RawClient): Promise<{ pid: number; epoch: number }> {
  const r = await c.request(ApiKey.InitProducerId, 1, new Writer().nullableString(null).int32(60_000));
  r.int32();
  const err = r.int16();
  if (err !== 0) throw new Error(`InitProducerId error ${err}`);
  return { pid: r.int64n(), epoch: r.int16() };
}

async function createTopic(c: RawClient, name: string): Promise<void> {
  // Metadata v4 with auto-creation allowed (the broker's default config allows it).
  await c.request(ApiKey.Metadata, 4, new Writer().int32(1).string(name).bool(true));
}

async function produce(c: RawClient, topic: string, batch: Buffer) {
  // The broker rewrites baseOffset in place; send a copy so the test can resend the original.
  return decodeProduceV7(await c.request(ApiKey.Produce, 7, produceBody(topic, 0, Buffer.from(batch))));
}

async function highWatermark(c: RawClient, topic: string): Promise<number> {
  return decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody(topic, 0, 0))).highWatermark;
}

t.test('duplicates acked with the original offset, gaps and stale epochs refused', async (t) => {
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  let c = await RawClient.connect(b.port);
  await createTopic(c, 'idem');
  const { pid, epoch } = await initProducerId(c);
  const second = await initProducerId(c);
  t.not(second.pid, pid, 'each InitProducerId gets a new producer id');

  const b0 = buildBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], {
    producerId: pid,
    producerEpoch: epoch,
    baseSequence: 0,
  });
  const b1 = buildBatch([{ value: 'd' }], { producerId: pid, producerEpoch: epoch, baseSequence: 3 });
  t.same(await produce(c, 'idem', b0), { errorCode: 0, baseOffset: 0 }, 'first batch at offset 0');
  t.same(
    await produce(c, 'idem', b0),
    { errorCode: 0, baseOffset: 0 },
    'retry acked with the original offset',
  );
  t.equal(await highWatermark(c, 'idem'), 3, 'retry not stored twice');
  t.same(await produce(c, 'idem', b1), { errorCode: 0, baseOffset: 3 }, 'next sequence appended');
  t.same(
    await produce(c, 'idem', b0),
    { errorCode: 0, baseOffset: 0 },
    'older cached batch still recognised',
  );

  const gap = buildBatch([{ value: 'x' }], { producerId: pid, producerEpoch: epoch, baseSequence: 10 });
  t.equal((await produce(c, 'idem', gap)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'gap refused');
  const stale = buildBatch([{ value: 'x' }], { producerId: pid, producerEpoch: epoch - 1, baseSequence: 4 });
  t.equal(
    (await produce(c, 'idem', stale)).errorCode,
    ErrorCode.INVALID_PRODUCER_EPOCH,
    'stale epoch refused',
  );
  t.equal(await highWatermark(c, 'idem'), 4, 'refused batches not stored');

  // Clean restart: producer state comes back from its snapshot.
  c.close();
  await b.stop();
  const b2 = await inProcessBroker(t, { dataDir: b.dataDir, defaultPartitions: 1 });
  c = await RawClient.connect(b2.port);
  t.teardown(() => c.close());
  t.same(await produce(c, 'idem', b1), { errorCode: 0, baseOffset: 3 }, 'after restart: retry recognised');
  t.equal(await highWatermark(c, 'idem'), 4, 'after restart: still one copy');
  const third = await initProducerId(c);
  t.ok(third.pid > second.pid, 'producer ids never repeat across restarts');
  const f = decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody('idem', 0, 0)));
  t.same(batchOffsets(f.records), [0, 3], 'the log holds the two distinct batches');
});

t.test('producer state is rebuilt from the log after kill -9', async (t) => {
  const dataDir = tempDir(t);
  const first = await childBroker(t, dataDir, ['--default-partitions', '1']);
  let c = await RawClient.connect(first.port);
  await createTopic(c, 'crash');
  const { pid, epoch } = await initProducerId(c);
  const batches = Array.from({ length: 5 }, (_, i) =>
    buildBatch([{ value: `v${i}` }], { producerId: pid, producerEpoch: epoch, baseSequence: i }),
  );
  for (const [i, batch] of batches.entries()) t.equal((await produce(c, 'crash', batch)).baseOffset, i);
  c.close();
  await first.kill9();

  const second = await childBroker(t, dataDir, ['--default-partitions', '1']);
  c = await RawClient.connect(second.port);
  t.teardown(() => c.close());
  t.same(
    await produce(c, 'crash', batches[4]!),
    { errorCode: 0, baseOffset: 4 },
    'retry after crash recognised',
  );
  t.same(await produce(c, 'crash', batches[2]!), { errorCode: 0, baseOffset: 2 }, 'older retry too');
  t.equal(await highWatermark(c, 'crash'), 5, 'no copy added');
  const next = buildBatch([{ value: 'v5' }], { producerId: pid, producerEpoch: epoch, baseSequence: 5 });
  t.same(await produce(c, 'crash', next), { errorCode: 0, baseOffset: 5 }, 'sequence continues');
  const gap = buildBatch([{ value: 'v9' }], { producerId: pid, producerEpoch: epoch, baseSequence: 9 });
  t.equal(
    (await produce(c, 'crash', gap)).errorCode,
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    'gap still refused',
  );
  await second.stop();
});
