// Retention: whole old segments deleted by size (retention.bytes) and by age (retention.ms,
// from the batches' timestamps); never the active segment; retention.ms=-1 keeps by time
// forever. A fetch below the new log start is OFFSET_OUT_OF_RANGE and a kafkajs consumer from
// the beginning is reset to the log start, also when its group had committed an offset that
// retention has since removed (kafkajs commits -2 to reset itself; the broker must take it).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { Writer } from '../broker/protocol/codec.js';
import { ErrorCode } from '../broker/protocol/errors.js';
import { consumeFromStart, inProcessBroker, kafka } from './helpers/broker-harness.js';
import {
  buildBatch,
  decodeFetchV11,
  decodeProduceV7,
  fetchBody,
  produceBody,
  RawClient,
} from './helpers/broker-raw.js';

const segments = (dataDir: string, topic: string) =>
  readdirSync(join(dataDir, 'topics', topic, '0')).filter((f) => f.endsWith('.log')).length;

async function createTopic(c: RawClient, name: string, configs: Record<string, string>) {
  const w = new Writer().int32(1).string(name).int32(1).int16(1).int32(0);
  w.array(Object.entries(configs), (w, [k, v]) => w.string(k).nullableString(v));
  w.int32(5000).bool(false);
  const r = await c.request(ApiKey.CreateTopics, 4, w);
  r.int32();
  r.int32();
  r.string();
  const err = r.int16();
  if (err !== 0) throw new Error(`create ${name}: error ${err} ${r.nullableString()}`);
}

async function fill(c: RawClient, topic: string, n: number, timestamp?: number) {
  for (let i = 0; i < n; i++) {
    const batch = buildBatch([{ value: Buffer.alloc(200, i) }], { baseTimestamp: timestamp });
    const r = decodeProduceV7(await c.request(ApiKey.Produce, 7, produceBody(topic, 0, batch)));
    if (r.errorCode !== 0) throw new Error(`produce error ${r.errorCode}`);
  }
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 25));
}

t.test('retention.bytes deletes old segments; consumers below the start are reset', async (t) => {
  const b = await inProcessBroker(t, { retentionCheckMs: 50, topicDefaults: { segmentBytes: 1024 } });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  await createTopic(c, 'sized', { 'retention.bytes': '3000' });
  await fill(c, 'sized', 60);
  const log = b.context.topics.partition('sized', 0)!;
  await until(() => log.logStartOffset > 0 && log.sizeBytes <= 3000 + 1024);
  t.ok(segments(b.dataDir, 'sized') >= 2, 'old segments gone, recent ones kept');
  t.ok(
    log.sizeBytes <= 3000 + 1024,
    `retained ${log.sizeBytes} bytes: within one segment of retention.bytes`,
  );
  t.equal(log.logEndOffset, 60, 'the end of the log is untouched');

  const below = decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody('sized', 0, 0)));
  t.equal(below.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, 'fetch from 0 is out of range');
  t.equal(below.logStartOffset, log.logStartOffset, 'and reports the new log start');

  const offsets: number[] = [];
  await consumeFromStart(t, b.address, { topic: 'sized', groupId: 'late' }, (message) => {
    offsets.push(Number(message.offset));
    return Number(message.offset) === 59;
  });
  t.equal(offsets[0], log.logStartOffset, 'consumer from the beginning starts at the log start');
  t.equal(offsets.length, 60 - log.logStartOffset, 'and reads every retained record');
});

t.test('retention.ms deletes segments whose records are older; -1 keeps them', async (t) => {
  const b = await inProcessBroker(t, { retentionCheckMs: 50, topicDefaults: { segmentBytes: 1024 } });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  await createTopic(c, 'aged', { 'retention.ms': '60000' });
  await createTopic(c, 'forever', { 'retention.ms': '-1' });
  await createTopic(c, 'quiet', { 'retention.ms': '60000' });
  const hourAgo = Date.now() - 3600_000;
  await fill(c, 'aged', 20, hourAgo);
  await fill(c, 'forever', 20, hourAgo);
  await fill(c, 'quiet', 2, hourAgo); // fits in the active segment, then nothing more is written
  await fill(c, 'aged', 3); // recent records: their segment stays
  const aged = b.context.topics.partition('aged', 0)!;
  await until(() => aged.logStartOffset > 0);
  // Let a few more retention passes run; the recent segment and the active one must survive.
  await new Promise((r) => setTimeout(r, 200));
  t.equal(aged.logEndOffset, 23);
  t.ok(aged.logStartOffset <= 20, 'segments with recent records kept');
  t.ok(segments(b.dataDir, 'aged') >= 1, 'the active segment is never deleted');
  const forever = b.context.topics.partition('forever', 0)!;
  t.equal(forever.logStartOffset, 0, 'retention.ms=-1 keeps old records');
  t.ok(segments(b.dataDir, 'forever') > 2, 'all its segments are still there');
  const quiet = b.context.topics.partition('quiet', 0)!;
  await until(() => quiet.logStartOffset === 2);
  t.equal(quiet.sizeBytes, 0, 'an expired active segment is rolled and deleted too');
  t.equal(quiet.logEndOffset, 2, 'offsets continue where they were');
});

t.test('a group whose committed offset retention removed resets itself and reads on', async (t) => {
  const b = await inProcessBroker(t, {
    retentionCheckMs: 50,
    topicDefaults: { segmentBytes: 1024 },
    groups: { initialRebalanceDelayMs: 50 }, // admin.setOffsets joins the group three times
  });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  await createTopic(c, 'behind', { 'retention.bytes': '3000' });
  const admin = kafka(b.address).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  // The group read 2 records, then went away while 60 more arrived and old segments expired.
  await admin.setOffsets({ groupId: 'slow', topic: 'behind', partitions: [{ partition: 0, offset: '2' }] });
  await fill(c, 'behind', 60);
  const log = b.context.topics.partition('behind', 0)!;
  await until(() => log.logStartOffset > 2);

  // kafkajs fetches from 2, gets OFFSET_OUT_OF_RANGE and commits -2 (earliest) to reset itself.
  // Refusing that commit crashed the consumer for good (restart: false): ingest crash-looped.
  const consumer = kafka(b.address).consumer({ groupId: 'slow', maxWaitTimeInMs: 100 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'behind', fromBeginning: true });
  const offsets: number[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
    consumer
      .run({
        eachMessage: async ({ message }) => {
          offsets.push(Number(message.offset));
          if (Number(message.offset) === 59) resolve();
        },
      })
      .catch(reject);
  });
  t.equal(offsets[0], log.logStartOffset, 'the group resumes at the log start');
  t.equal(offsets.length, 60 - log.logStartOffset, 'and reads every retained record once');
  await consumer.disconnect();

  // An operator's reset commits -2 or -1 the same way; it must answer, not retry forever.
  await admin.resetOffsets({ groupId: 'slow', topic: 'behind', earliest: true });
  const [reset] = await admin.fetchOffsets({ groupId: 'slow', topics: ['behind'] });
  t.equal(reset!.partitions[0]!.offset, '-2', 'resetOffsets to earliest is stored as -2');
  await admin.resetOffsets({ groupId: 'slow', topic: 'behind', earliest: false });
  const [latest] = await admin.fetchOffsets({ groupId: 'slow', topics: ['behind'] });
  t.equal(latest!.partitions[0]!.offset, '-1', 'and to latest as -1');
});
