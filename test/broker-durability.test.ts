// Durability: a restart on the same data dir serves everything; a torn tail (garbage appended,
// or a batch cut in half) is truncated on start and everything before it is served; every
// acks=-1 acknowledgement survives kill -9 of the broker process; what a power cut takes from a
// segment's tail comes back from the journal (broker/storage/journal.ts), which keeps nothing of
// a topic deleted and created again.
import {
  appendFileSync,
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { Writer } from '../broker/protocol/codec.js';
import { Journal, type JournalRecord, readJournal } from '../broker/storage/journal.js';
import { Segment } from '../broker/storage/segment.js';
import { childBroker, inProcessBroker, kafka, silent, tempDir } from './helpers/broker-harness.js';
import {
  batchOffsets,
  buildBatch,
  decodeFetchV11,
  decodeProduceV7,
  fetchBody,
  produceBody,
  RawClient,
} from './helpers/broker-raw.js';

async function readAll(port: number, topic: string, partition = 0) {
  const c = await RawClient.connect(port);
  try {
    const offsets: number[] = [];
    let hw = 0;
    let next = 0;
    for (;;) {
      const f = decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody(topic, partition, next)));
      if (f.errorCode !== 0) throw new Error(`fetch error ${f.errorCode}`);
      hw = f.highWatermark;
      const o = batchOffsets(f.records);
      if (o.length === 0) break;
      offsets.push(...o);
      // Each test batch here holds one record, so the next offset is last + 1.
      next = o[o.length - 1]! + 1;
    }
    return { offsets, hw };
  } finally {
    c.close();
  }
}

function segmentFiles(dataDir: string, topic: string, partition = 0): string[] {
  const dir = join(dataDir, 'topics', topic, String(partition));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((f) => join(dir, f));
}

async function produceN(port: number, topic: string, n: number, from = 0): Promise<void> {
  const c = await RawClient.connect(port);
  await c.request(ApiKey.Metadata, 4, new Writer().int32(1).string(topic).bool(true));
  for (let i = 0; i < n; i++) {
    const r = decodeProduceV7(
      await c.request(ApiKey.Produce, 7, produceBody(topic, 0, buildBatch([{ value: `r${from + i}` }]))),
    );
    if (r.errorCode !== 0) throw new Error(`produce error ${r.errorCode}`);
  }
  c.close();
}

t.test('restart on the same data dir reads everything back, across rolled segments', async (t) => {
  const b = await inProcessBroker(t, { defaultPartitions: 1, topicDefaults: { segmentBytes: 2048 } });
  b.context.topics.create('keep', 1, { 'retention.ms': '-1', 'max.message.bytes': '5000' });
  await produceN(b.port, 'keep', 200);
  t.ok(segmentFiles(b.dataDir, 'keep').length > 3, 'several segments rolled');
  await b.stop();
  const b2 = await inProcessBroker(t, {
    dataDir: b.dataDir,
    defaultPartitions: 1,
    topicDefaults: { segmentBytes: 2048 },
  });
  const { offsets, hw } = await readAll(b2.port, 'keep');
  t.equal(hw, 200);
  t.same(
    offsets,
    Array.from({ length: 200 }, (_, i) => i),
    'every offset once, in order',
  );
  await produceN(b2.port, 'keep', 10, 200);
  t.equal((await readAll(b2.port, 'keep')).hw, 210, 'appends continue after restart');
});

t.test('torn tail: garbage after the last batch is cut, earlier data served', async (t) => {
  const dataDir = tempDir(t);
  const first = await childBroker(t, dataDir, ['--default-partitions', '1']);
  await produceN(first.port, 'torn', 50);
  await first.kill9(); // unclean: the next start must verify the tail
  const [seg] = segmentFiles(dataDir, 'torn');
  const goodSize = statSync(seg!).size;
  appendFileSync(seg!, Buffer.from('this is not a record batch, it is garbage from a torn write'));
  const second = await childBroker(t, dataDir, ['--default-partitions', '1']);
  t.match(second.output(), /truncated torn tail/, 'recovery logged');
  t.equal(statSync(seg!).size, goodSize, 'file cut back to the last whole batch');
  const { offsets, hw } = await readAll(second.port, 'torn');
  t.equal(hw, 50);
  t.same(
    offsets,
    Array.from({ length: 50 }, (_, i) => i),
  );
  await produceN(second.port, 'torn', 5, 50);
  t.equal((await readAll(second.port, 'torn')).hw, 55, 'appends continue at the right offset');
  await second.stop();
});

t.test('torn tail: a batch cut in half is dropped, the ones before it served', async (t) => {
  const dataDir = tempDir(t);
  const first = await childBroker(t, dataDir, ['--default-partitions', '1']);
  await produceN(first.port, 'half', 20);
  await first.kill9();
  const [seg] = segmentFiles(dataDir, 'half');
  const size = statSync(seg!).size;
  truncateSync(seg!, size - 10); // the last batch loses its final bytes
  // ...and so does its journal record: a power cut during the append, before its fsync round
  // (the file is preallocated: what was not written is still zeros).
  const last = journalRecords(dataDir).at(-1)!;
  const fd = openSync(join(dataDir, 'journal-a'), 'r+');
  writeSync(fd, Buffer.alloc(10), 0, 10, last.end - 10);
  closeSync(fd);
  const second = await childBroker(t, dataDir, ['--default-partitions', '1']);
  const { offsets, hw } = await readAll(second.port, 'half');
  t.equal(hw, 19, 'the torn batch is gone');
  t.same(
    offsets,
    Array.from({ length: 19 }, (_, i) => i),
    'all whole batches served',
  );
  await second.stop();
});

t.test('every acks=-1 acknowledgement survives kill -9 mid-stream', async (t) => {
  const dataDir = tempDir(t);
  const first = await childBroker(t, dataDir, ['--default-partitions', '4']);
  const client = kafka(first.address);
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'acked', numPartitions: 4 }] });
  await admin.disconnect();
  const acked = new Set<string>();
  const producers = await Promise.all(
    [0, 1, 2].map(async () => {
      const pr = client.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
      });
      await pr.connect();
      return pr;
    }),
  );
  let stop = false;
  const loops = producers.map(async (pr, p) => {
    for (let i = 0; !stop; i++) {
      const value = `p${p}-${i}`;
      try {
        await pr.send({ topic: 'acked', acks: -1, messages: [{ key: value, value }] });
        acked.add(value);
      } catch {
        return; // the broker died under us
      }
    }
  });
  while (acked.size < 300) await new Promise((r) => setTimeout(r, 20));
  await first.kill9();
  stop = true;
  await Promise.all(loops);
  await Promise.all(producers.map((p) => p.disconnect().catch(() => {})));

  const second = await childBroker(t, dataDir, ['--default-partitions', '4']);
  const reader = kafka(second.address).consumer({ groupId: 'after-crash', maxWaitTimeInMs: 100 });
  await reader.connect();
  await reader.subscribe({ topic: 'acked', fromBeginning: true });
  const seen = new Map<string, number>();
  const admin2 = kafka(second.address).admin();
  await admin2.connect();
  const total = (await admin2.fetchTopicOffsets('acked')).reduce((n, o) => n + Number(o.high), 0);
  await admin2.disconnect();
  await new Promise<void>((resolve, reject) => {
    let n = 0;
    reader
      .run({
        eachMessage: async ({ message }) => {
          const v = message.value!.toString();
          seen.set(v, (seen.get(v) ?? 0) + 1);
          if (++n === total) resolve();
        },
      })
      .catch(reject);
  });
  await reader.disconnect();
  const lost = [...acked].filter((v) => !seen.has(v));
  t.same(lost, [], `all ${acked.size} acknowledged records present after kill -9`);
  t.same(
    [...seen.entries()].filter(([, n]) => n > 1),
    [],
    'no record stored twice',
  );
  await second.stop();
});

t.test(
  'a failing disk write is refused with KAFKA_STORAGE_ERROR; the broker and its data carry on',
  async (t) => {
    const dataDir = tempDir(t);
    // Files may not grow past 64 KiB: the segment write fails for real (EFBIG) once it is full.
    // The journal is emptied every 16 KiB, so it is the segment write that fails, after its
    // journal record was written (and must be taken back).
    const b = await childBroker(
      t,
      dataDir,
      ['--default-partitions', '1', '--journal-checkpoint-bytes', '16384'],
      { fileSizeLimitKb: 64 },
    );
    const c = await RawClient.connect(b.port);
    t.teardown(() => c.close());
    await c.request(ApiKey.Metadata, 4, new Writer().int32(1).string('full').bool(true));
    let acked = 0;
    let code = 0;
    for (let i = 0; i < 200 && code === 0; i++) {
      const batch = buildBatch([{ value: Buffer.alloc(1000, i) }]);
      code = decodeProduceV7(await c.request(ApiKey.Produce, 7, produceBody('full', 0, batch))).errorCode;
      if (code === 0) acked++;
    }
    t.equal(code, 56, 'KAFKA_STORAGE_ERROR once the file cannot grow');
    t.ok(acked > 30 && acked < 70, `${acked} batches fitted before`);
    const again = decodeProduceV7(
      await c.request(ApiKey.Produce, 7, produceBody('full', 0, buildBatch([{ value: Buffer.alloc(1000) }]))),
    );
    t.equal(again.errorCode, 56, 'refused again, not crashed');
    const small = decodeProduceV7(
      await c.request(ApiKey.Produce, 7, produceBody('full', 0, buildBatch([{ value: 'tiny' }]))),
    );
    t.equal(small.errorCode, 0, 'a batch that still fits is taken: no partial batch was left behind');
    await b.kill9();
    // And a power cut takes all of the segment the last checkpoint did not sync: the journal,
    // the refused records taken back from it, must still bring every acknowledged batch back.
    const [seg] = segmentFiles(dataDir, 'full');
    const records = journalRecords(dataDir);
    t.ok(records.length > 1, `the journal covers the last ${records.length} batches`);
    truncateSync(seg!, Math.min(...records.map((r) => r.position)));
    const after = await childBroker(t, dataDir, ['--default-partitions', '1']);
    const { offsets, hw } = await readAll(after.port, 'full');
    t.equal(hw, acked + 1, 'every acknowledged batch is there after restart');
    t.same(
      offsets,
      Array.from({ length: acked + 1 }, (_, i) => i),
      'nothing refused was stored',
    );
    await after.stop();
  },
);

/** The records both journal files hold, as the broker's replay reads them (storage/journal.ts). */
function journalRecords(dataDir: string): JournalRecord[] {
  return ['journal-a', 'journal-b'].flatMap((name) => [...readJournal(join(dataDir, name))]);
}

t.test(
  'a power cut that takes the segment tail: the journal writes the acknowledged batches back',
  async (t) => {
    const dataDir = tempDir(t);
    const first = await childBroker(t, dataDir, ['--default-partitions', '1']);
    await produceN(first.port, 'cut', 30);
    await first.kill9();
    const [seg] = segmentFiles(dataDir, 'cut');
    const size = statSync(seg!).size;
    // The page cache never reached the disk for the second half (only the journal was fsync'ed).
    truncateSync(seg!, Math.floor(size / 2));
    const second = await childBroker(t, dataDir, ['--default-partitions', '1']);
    t.match(second.output(), /journal replayed into the segments/, 'replay logged');
    t.equal(statSync(seg!).size, size, 'the segment has its bytes again');
    const { offsets, hw } = await readAll(second.port, 'cut');
    t.equal(hw, 30);
    t.same(
      offsets,
      Array.from({ length: 30 }, (_, i) => i),
      'every acknowledged batch served',
    );
    await second.stop();
  },
);

t.test('checkpoints keep few journal records, dropping only those whose segments are synced', async (t) => {
  const dataDir = tempDir(t);
  const args = ['--default-partitions', '1', '--journal-checkpoint-bytes', '4096'];
  const first = await childBroker(t, dataDir, args);
  await produceN(first.port, 'cp', 400);
  await first.kill9();
  const [seg] = segmentFiles(dataDir, 'cp');
  const size = statSync(seg!).size;
  const records = journalRecords(dataDir);
  t.ok(size > 5 * 4096, `the segment (${size} bytes) is several checkpoints long`);
  t.ok(records.length > 0 && records.length < 100, `the journal kept ${records.length} of 400 records`);
  t.ok(
    records.every((r) => join(dataDir, r.path) === seg),
    'every record names the segment, relative to the data dir',
  );
  // A power cut takes whatever was not synced: at most what the journal still covers.
  const from = Math.min(...records.map((r) => r.position));
  truncateSync(seg!, from);
  const second = await childBroker(t, dataDir, args);
  const { offsets, hw } = await readAll(second.port, 'cp');
  t.equal(hw, 400);
  t.same(
    offsets,
    Array.from({ length: 400 }, (_, i) => i),
    'every acknowledged batch served',
  );
  await second.stop();
});

t.test("a topic deleted and created again never gets the old topic's records at replay", async (t) => {
  const dataDir = tempDir(t);
  const first = await childBroker(t, dataDir, ['--default-partitions', '1']);
  await produceN(first.port, 'again', 20);
  const admin = kafka(first.address).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: ['again'] });
  await admin.disconnect();
  await produceN(first.port, 'again', 5); // created again (auto-create), same name, same sizes
  await first.kill9();
  const second = await childBroker(t, dataDir, ['--default-partitions', '1']);
  const { offsets, hw } = await readAll(second.port, 'again');
  t.equal(hw, 5, "only the new topic's batches");
  t.same(offsets, [0, 1, 2, 3, 4]);
  await second.stop();
});

t.test('a record taken back (its segment write failed) leaves no hole before the next one', async (t) => {
  const dataDir = tempDir(t);
  const seg = Segment.create(dataDir, 0, 4096);
  t.teardown(() => seg.close());
  const { journal } = Journal.open(dataDir, silent, 1 << 20);
  const batch = (v: string) => buildBatch([{ value: v }]);
  // Positions are those of the segment (a refused batch does not move its end).
  journal.append(seg, 0, batch('kept'));
  journal.append(seg, 100, batch('refused'))(); // undone, as PartitionLog.append does
  journal.append(seg, 100, batch('next'));
  journal.append(seg, 200, batch('refused again'))();
  journal.append(seg, 200, batch('last'));
  journal.close(); // as a kill -9 leaves it
  const { replayed } = Journal.open(dataDir, silent, 1 << 20);
  t.equal(replayed.records, 3, 'every record around the ones taken back is replayed');
});

t.test('a record taken back with nothing after it is not replayed', async (t) => {
  const dataDir = tempDir(t);
  const seg = Segment.create(dataDir, 0, 4096);
  t.teardown(() => seg.close());
  const { journal } = Journal.open(dataDir, silent, 1 << 20);
  journal.append(seg, 0, buildBatch([{ value: 'kept' }]));
  journal.append(seg, 100, buildBatch([{ value: 'refused' }]))();
  journal.close(); // as a kill -9 leaves it
  const { journal: again, replayed } = Journal.open(dataDir, silent, 1 << 20);
  again.close();
  // Replayed, it would have written a batch the broker refused into the segment.
  t.equal(replayed.records, 1, 'only the record whose segment write succeeded');
  t.equal(statSync(seg.path).size, buildBatch([{ value: 'kept' }]).length, 'nothing written at 100');
});

t.test(
  'journal files are written ahead with zeros and reused, never read past their generation',
  async (t) => {
    const dataDir = tempDir(t);
    const seg = Segment.create(dataDir, 0, 1 << 20);
    t.teardown(() => seg.close());
    const path = join(dataDir, 'journal-a');
    const generation = () => readFileSync(path).readBigUInt64BE(4);
    const { journal } = Journal.open(dataDir, silent, 1 << 20);
    const first = generation();
    const batch = buildBatch([{ value: Buffer.alloc(500, 1) }]);
    journal.append(seg, 0, batch);
    const size = statSync(path).size;
    t.ok(size >= 1 << 20, `one append made the file ${size} bytes long`);
    for (let i = 1; i < 100; i++) journal.append(seg, i * batch.length, batch);
    await journal.sync();
    // An fdatasync then writes data only: the file's size (metadata) did not change.
    t.equal(statSync(path).size, size, 'a hundred appends later it is as long');
    journal.closeClean();
    t.equal(statSync(path).size, size, 'emptied without being truncated');
    t.ok(
      readFileSync(path)
        .subarray(12, 100)
        .some((b) => b !== 0),
      "the old records' bytes are still there",
    );
    t.ok(generation() > first, 'under a header of a later generation');
    t.same([...readJournal(path)], [], 'so none of them is read');
    const { journal: next, replayed } = Journal.open(dataDir, silent, 1 << 20);
    t.equal(replayed.records, 0, 'nor replayed at the next start');
    next.append(seg, 0, buildBatch([{ value: 'new' }]));
    next.close();
    t.same(
      [...readJournal(path)].map((r) => r.position),
      [0],
      'after a new record, the older ones behind it are not read either',
    );
    t.ok(generation() > first + 2n, 'generations keep growing across restarts');
  },
);

t.test('a journal file a slow checkpoint let grow is cut back when emptied', async (t) => {
  const dataDir = tempDir(t);
  const seg = Segment.create(dataDir, 0, 1 << 20);
  t.teardown(() => seg.close());
  const path = join(dataDir, 'journal-a');
  // 4 KiB checkpoints: zeros are written 4 KiB at a time, and an emptied file keeps 12 KiB.
  const { journal } = Journal.open(dataDir, silent, 4096);
  const batch = buildBatch([{ value: Buffer.alloc(1000, 2) }]);
  // No fsync round between them, so no checkpoint: the file grows past what it keeps.
  for (let i = 0; i < 30; i++) journal.append(seg, i * batch.length, batch);
  t.ok(statSync(path).size > 30 * batch.length, 'grown with its records');
  journal.closeClean();
  t.equal(statSync(path).size, 4096 * 3, 'emptied, and cut back to a checkpoint and two steps');
});

t.test('a record larger than the window replay reads at a time is replayed whole', async (t) => {
  const dataDir = tempDir(t);
  const seg = Segment.create(dataDir, 0, 4 << 20);
  t.teardown(() => seg.close());
  const { journal } = Journal.open(dataDir, silent, 16 << 20);
  const small = buildBatch([{ value: 'before' }]);
  const big = buildBatch([{ value: Buffer.alloc(1536 * 1024, 5) }]);
  journal.append(seg, 0, small);
  journal.append(seg, small.length, big);
  journal.append(seg, small.length + big.length, small);
  journal.close(); // as a kill -9 leaves it: the segment never got its bytes
  const { journal: again, replayed } = Journal.open(dataDir, silent, 16 << 20);
  again.close();
  t.same(replayed, { records: 3, skipped: 0, bytes: 2 * small.length + big.length });
  t.ok(readFileSync(seg.path).equals(Buffer.concat([small, big, small])), 'the segment has all three');
});

t.test(
  "a record of a segment deleted since (retention) is skipped; the others' bytes are written back",
  async (t) => {
    const dataDir = tempDir(t);
    const old = Segment.create(dataDir, 0, 4096);
    const current = Segment.create(dataDir, 1, 4096);
    t.teardown(() => current.close());
    const { journal } = Journal.open(dataDir, silent, 1 << 20);
    const kept = buildBatch([{ value: 'kept' }]);
    journal.append(old, 0, buildBatch([{ value: 'gone' }]));
    journal.append(current, 0, kept);
    journal.close(); // as a kill -9 leaves it: the segment files never got their bytes
    old.remove();
    const { replayed } = Journal.open(dataDir, silent, 1 << 20);
    t.same(replayed, { records: 2, skipped: 1, bytes: kept.length });
    t.same(readFileSync(current.path), kept, 'the live segment has its batch');
  },
);
