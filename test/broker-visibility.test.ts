// Consumers read only what is fsync'ed (the high watermark), whatever acks the producer asked
// for; a parked fetch is answered by the fsync round that makes new data durable; an fsync that
// fails leaves the data unread and unacknowledged, and nothing later is served or acked either.
// The fsync is held or failed for real by wrapping the broker's background fsyncs
// (helpers/background-fsync.ts); reads and fetches then show what is visible at each step, in order.
import t from 'tap';
import { DEFAULT_TOPIC_DEFAULTS } from '../broker/config.js';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { ErrorCode } from '../broker/protocol/errors.js';
import { GroupFlusher } from '../broker/storage/flusher.js';
import { PartitionLog } from '../broker/storage/log.js';
import { wrapBackgroundFsync as wrapFsync } from './helpers/background-fsync.js';
import { inProcessBroker, silent, tempDir } from './helpers/broker-harness.js';
import {
  batchOffsets,
  buildBatch,
  decodeFetchV11,
  decodeProduceV7,
  fetchBody,
  produceBody,
  RawClient,
} from './helpers/broker-raw.js';

t.test('a written batch is read only after the round that fsyncs it', async (t) => {
  const cfg = { ...DEFAULT_TOPIC_DEFAULTS, segmentBytes: 1 << 20 };
  const log = PartitionLog.open(tempDir(t), 't', 0, () => cfg, 512, new GroupFlusher(), silent, true);
  t.teardown(() => log.close());
  const r = log.append(buildBatch([{ value: 'a' }]));
  t.equal(r.errorCode, 0);
  t.equal(log.logEndOffset, 1, 'written');
  t.equal(log.highWatermark, 0, 'not yet durable');
  t.same(log.read(0, 1 << 20), { errorCode: 0, records: null }, 'so not readable');
  t.equal(log.read(1, 1 << 20).errorCode, 0, 'the log end is a valid position, not out of range');
  await log.flush();
  t.equal(log.highWatermark, 1, 'durable after the round');
  const after = log.read(0, 1 << 20);
  t.same(after.errorCode === 0 && after.records ? batchOffsets(after.records) : [], [0], 'now readable');
});

t.test(
  'fetches see acks=0/1 data only once it is fsynced; a parked fetch wakes with the fsync',
  async (t) => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const events: string[] = [];
    wrapFsync(t, async (real) => {
      await gate;
      return real();
    });
    const b = await inProcessBroker(t, { defaultPartitions: 1 });
    b.context.topics.create('v', 1);
    const producer = await RawClient.connect(b.port);
    const consumer = await RawClient.connect(b.port);
    const parked = await RawClient.connect(b.port);
    t.teardown(() => {
      for (const c of [producer, consumer, parked]) c.close();
    });

    const one = decodeProduceV7(
      await producer.request(ApiKey.Produce, 7, produceBody('v', 0, buildBatch([{ value: 'acks1' }]), 1)),
    );
    t.equal(one.errorCode, 0, 'acks=1 answered once written');
    const early = decodeFetchV11(await consumer.request(ApiKey.Fetch, 11, fetchBody('v', 0, 0)));
    t.equal(early.highWatermark, 0, 'high watermark still 0: nothing fsynced');
    t.equal(early.records.length, 0, 'the written batch is not served');

    // A long poll (60 s: the test's own timeout would fire first) and an acks=-1 produce, both
    // waiting for the held fsync.
    const poll = parked.request(ApiKey.Fetch, 11, fetchBody('v', 0, 0, 60_000)).then((r) => {
      events.push('fetch answered');
      return decodeFetchV11(r);
    });
    const acked = producer
      .request(ApiKey.Produce, 7, produceBody('v', 0, buildBatch([{ value: 'acks-1' }]), -1))
      .then((r) => {
        events.push('acks=-1 answered');
        return decodeProduceV7(r);
      });
    // A round trip on another connection after both were sent: the broker has taken them by now.
    const still = decodeFetchV11(await consumer.request(ApiKey.Fetch, 11, fetchBody('v', 0, 0)));
    t.equal(still.highWatermark, 0, 'still nothing served while the fsync is held');
    events.push('fsync released');
    open();
    const [f, p] = await Promise.all([poll, acked]);
    t.equal(events[0], 'fsync released', 'neither the fetch nor the ack came before the fsync');
    t.equal(p.errorCode, 0);
    t.ok(f.highWatermark >= 1, 'the parked fetch was answered by the round');
    t.same(batchOffsets(f.records)[0], 0, 'starting with the acks=1 batch');
    const all = decodeFetchV11(await consumer.request(ApiKey.Fetch, 11, fetchBody('v', 0, 0)));
    t.same(batchOffsets(all.records), [0, 1], 'both batches served once durable');
    t.equal(all.highWatermark, 2);
  },
);

t.test('a failed fsync: not acknowledged, never served, and later rounds fail too', async (t) => {
  let fail = true;
  wrapFsync(t, async (real) => {
    if (fail) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    return real();
  });
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  b.context.topics.create('f', 1);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const p1 = decodeProduceV7(
    await c.request(ApiKey.Produce, 7, produceBody('f', 0, buildBatch([{ value: 'lost?' }]), -1)),
  );
  t.equal(p1.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, 'acks=-1 refused when the fsync fails');
  fail = false; // the disk "recovers": its earlier failure may still have dropped the pages
  const p2 = decodeProduceV7(
    await c.request(ApiKey.Produce, 7, produceBody('f', 0, buildBatch([{ value: 'later' }]), -1)),
  );
  t.equal(p2.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, 'later acks=-1 refused too');
  const f = decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody('f', 0, 0)));
  t.equal(f.highWatermark, 0, 'nothing served');
  t.equal(f.records.length, 0);
});
