// Bad records: dead-lettered with the reason, counted, and their partition keeps moving.
// Through the real embedded broker (kafkajs) and read back with librdkafka (kcat).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { DeadLetterQueue } from '../ingest/consumer/dead-letter.js';
import { runGroup } from '../ingest/consumer/runner.js';
import type { Store } from '../ingest/db/store.js';
import { createIngestMetrics, type IngestMetrics } from '../ingest/metrics.js';
import { fixStoreSink } from '../ingest/sinks/fix-store.js';
import { encodeFix } from '../shared/fixcodec.js';
import { createLogger } from '../shared/log.js';
import { uvarintSize } from '../shared/varint.js';
import { backends, makeFix } from './helpers/ingest-backends.js';
import { committed, startTestBroker, waitFor } from './helpers/ingest-kafka.js';

const TOPIC = 'gps.fixes';
const run = promisify(execFile);
const DLQ = 'gps.fixes.dlq';

t.test('good, bad, good on one partition: both good stored, bad dead-lettered with reason', async (t) => {
  const k = await startTestBroker();
  const { store, cleanup } = await backends[0]!.open();
  const metrics = createIngestMetrics();
  t.teardown(async () => {
    await group?.stop();
    await k.stop();
    await store.close();
    await cleanup();
  });
  await k.createTopic(TOPIC, 3);
  await k.createTopic(DLQ, 1);
  const good1 = encodeFix(makeFix('dev-1', 1));
  const good2 = encodeFix(makeFix('dev-1', 2));
  const unknownVersion = Buffer.from(good1);
  unknownVersion[0] = 9;
  const badLat = Buffer.from(good1);
  badLat.writeInt32LE(95 * 1e7, 3 + 1 + 6); // after version, flags, mode, seq (1 byte), time (6)
  await k.producer.send({
    topic: TOPIC,
    messages: [
      { partition: 1, key: 'dev-1', value: good1 },
      { partition: 1, key: 'dev-1', value: Buffer.from('not a fix at all'), headers: { source: 'test' } },
      { partition: 1, key: 'dev-1', value: unknownVersion },
      { partition: 1, key: 'dev-1', value: badLat },
      { partition: 1, key: 'dev-1', value: null },
      { partition: 1, key: 'dev-1', value: good2 },
    ],
  });
  const producer = k.kafka.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  let group: Awaited<ReturnType<typeof runGroup>> | undefined = await runGroup({
    kafka: k.kafka,
    groupId: 'fix-store',
    topic: TOPIC,
    sink: fixStoreSink(store, metrics),
    flushRows: 100,
    flushMs: 20,
    metrics,
    log: createLogger('test', 'silent'),
    deadLetter: new DeadLetterQueue(producer, DLQ),
  });

  await waitFor(async () => ((await committed(k.admin, 'fix-store', TOPIC)).get(1) === 6 ? true : undefined));
  t.same(
    (await store.track('dev-1', 0, Number.MAX_SAFE_INTEGER, 10)).map((f) => f.seq),
    [1, 2],
    'the good fixes around the bad ones are stored',
  );

  // The partition is not stalled: a later good fix still goes through.
  await k.producer.send({
    topic: TOPIC,
    messages: [{ partition: 1, key: 'dev-1', value: encodeFix(makeFix('dev-1', 3)) }],
  });
  await waitFor(async () =>
    (await store.track('dev-1', 0, Number.MAX_SAFE_INTEGER, 10)).length === 3 ? true : undefined,
  );

  // A fix produced by librdkafka (kcat, one file = one message) is consumed like any other.
  const dir = mkdtempSync(join(tmpdir(), 'ingest-dlq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'fix4'), encodeFix(makeFix('dev-1', 4)));
  await run('kcat', ['-P', '-b', k.address, '-t', TOPIC, '-p', '1', '-k', 'dev-1', join(dir, 'fix4')], {
    timeout: 30_000,
  });
  await waitFor(async () =>
    (await store.track('dev-1', 0, Number.MAX_SAFE_INTEGER, 10)).length === 4 ? true : undefined,
  );

  // Read the DLQ with librdkafka: value untouched, reason and origin in headers. (Async: the
  // broker runs in this process and must keep answering while kcat runs.)
  const { stdout: out } = await run(
    'kcat',
    ['-C', '-b', k.address, '-t', DLQ, '-o', 'beginning', '-e', '-q', '-f', '%o|%h|%s\\n'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  const lines = out.trim().split('\n');
  t.equal(lines.length, 4, 'four bad records dead-lettered');
  const [first, second, third, fourth] = lines;
  t.match(first, /x-dlq-reason=version 110 is newer/, "'n' read as the version byte");
  t.match(first, /source=test/, "the producer's headers are kept");
  t.match(first, /x-original-topic=gps\.fixes,x-original-partition=1,x-original-offset=1/);
  t.match(first, /\|not a fix at all$/, 'value untouched');
  t.match(second, /x-dlq-reason=version 9 is newer than this decoder understands/);
  t.match(second, /x-original-offset=2/);
  t.match(third, /x-dlq-reason=lat 95 is outside -90\.\.90/);
  t.match(fourth, /x-dlq-reason=empty value/);
  t.match(fourth, /x-dlq-group=fix-store/);

  const dlqCount = (await metrics.dlqRecords.get()).values.reduce((a, v) => a + v.value, 0);
  t.equal(dlqCount, 4, 'counted');
  const consumed = (await metrics.consumedFixes.get()).values[0]?.value;
  t.equal(consumed, 8);
  const written = (await metrics.writtenFixes.get()).values[0]?.value;
  t.equal(written, 4);
  await group.stop();
  group = undefined;
});

/** The fix-store group on `store`, publishing bad records to the DLQ topic (created here). */
async function fixStoreWithDlq(
  k: Awaited<ReturnType<typeof startTestBroker>>,
  store: Store,
  metrics: IngestMetrics,
  flushRows: number,
) {
  await k.createTopic(DLQ, 1);
  const producer = k.kafka.producer();
  await producer.connect();
  const group = await runGroup({
    kafka: k.kafka,
    groupId: 'fix-store',
    topic: TOPIC,
    sink: fixStoreSink(store, metrics),
    flushRows,
    flushMs: 20,
    metrics,
    log: createLogger('test', 'silent'),
    deadLetter: new DeadLetterQueue(producer, DLQ),
  });
  return { group, producer };
}

/** A broker with a one-partition topic and the fix-store group on a SQLite store, torn down after t. */
async function fixStoreOnSqlite(
  t: Test,
  flushRows: number,
  broker?: Awaited<ReturnType<typeof startTestBroker>>,
) {
  const k = broker ?? (await startTestBroker());
  const { store, cleanup } = await backends[0]!.open();
  const metrics = createIngestMetrics();
  await k.createTopic(TOPIC, 1);
  const { group, producer } = await fixStoreWithDlq(k, store, metrics, flushRows);
  t.teardown(async () => {
    await group.stop();
    await producer.disconnect();
    await k.stop();
    await store.close();
    await cleanup();
  });
  return { k, store, metrics };
}

/** The encoder refuses a NUL in the device id, so a producer that has one is made by hand. */
function withNulInDeviceId(record: Buffer): Buffer {
  const b = Buffer.from(record);
  b[b.indexOf('nul_id') + 3] = 0;
  return b;
}

t.test(
  'a decoded fix the database refuses is isolated and dead-lettered; its neighbours are stored',
  async (t) => {
    const { PostgresStore } = await import('../ingest/db/postgres.js');
    const { PG_URL, uniqueSchema } = await import('./helpers/ingest-backends.js');
    const k = await startTestBroker();
    const store = new PostgresStore({ connectionString: PG_URL, schema: uniqueSchema('reject') });
    await store.migrate();
    // A real refusal by the database: a CHECK constraint no retry will ever satisfy.
    await store.tx((c) =>
      c.query("ALTER TABLE fixes ADD CONSTRAINT no_cursed CHECK (device_id <> 'cursed')"),
    );
    const metrics = createIngestMetrics();
    await k.createTopic(TOPIC, 2);
    const { group, producer } = await fixStoreWithDlq(k, store, metrics, 1000);
    t.teardown(async () => {
      await group.stop();
      await producer.disconnect();
      await k.stop();
      await store.dropSchema();
      await store.close();
    });
    const good = [1, 2, 3, 4, 5, 6].map((s) => makeFix('fine', s));
    await k.producer.send({
      topic: TOPIC,
      messages: [
        ...good.slice(0, 3).map((f) => ({ partition: 0, key: 'x', value: encodeFix(f) })),
        { partition: 0, key: 'x', value: encodeFix(makeFix('cursed', 9)) },
        { partition: 0, key: 'x', value: withNulInDeviceId(encodeFix(makeFix('nul_id', 1))) },
        ...good.slice(3).map((f) => ({ partition: 0, key: 'x', value: encodeFix(f) })),
      ],
    });
    await waitFor(async () =>
      (await committed(k.admin, 'fix-store', TOPIC)).get(0) === 8 ? true : undefined,
    );
    t.same(
      (await store.track('fine', 0, Number.MAX_SAFE_INTEGER, 10)).map((f) => f.seq),
      [1, 2, 3, 4, 5, 6],
      'the fixes around the refused one are stored',
    );
    const { stdout } = await run(
      'kcat',
      ['-C', '-b', k.address, '-t', DLQ, '-o', 'beginning', '-e', '-q', '-f', '%h\\n'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    const lines = stdout.trim().split('\n').sort();
    t.equal(lines.length, 2);
    t.match(lines.join('\n'), /x-dlq-reason=deviceId contains a NUL character/);
    t.match(
      lines.join('\n'),
      /x-dlq-reason=database rejected the fix: .*no_cursed.*x-device-id=cursed,x-seq=9/,
    );
    const byReason = Object.fromEntries(
      (await metrics.dlqRecords.get()).values.map((v) => [v.labels.reason, v.value]),
    );
    t.same(byReason, { database: 1, invalid: 1 });
    // The refused seq is recorded as rejected; the record with a NUL in its id names no device.
    const rejected = await store.tx((c) => c.query('SELECT device_id, seq, reason FROM rejected_seqs'));
    t.same(
      rejected.rows.map((r) => [r.device_id, Number(r.seq)]),
      [['cursed', 9]],
    );
    t.match(rejected.rows[0]?.reason, /^database rejected the fix: .*no_cursed/);
    t.equal((await metrics.sinkErrors.get()).values.length, 0, 'not counted as a database failure');
  },
);

t.test(
  'a fix dated far ahead of the clock or decades behind it (receiver date errors) is dead-lettered, not stored',
  async (t) => {
    const { k, store, metrics } = await fixStoreOnSqlite(t, 100);
    const now = Date.now();
    // Kept, the 2100 one would be the device's newest by GNSS time for 74 years: the live view
    // would never show the real fixes after it.
    const fixes = [
      makeFix('glitch', 1, { time: Date.UTC(2100, 0, 1) }),
      makeFix('glitch', 2, { time: now - 2000 }),
      makeFix('glitch', 3, { time: now + 600_000 }), // 10 min ahead: a server clock a little behind
      // A receiver whose week count rolled over: 1024 weeks back. Kept, it made a day row 19.6
      // years old and the trips group rebuilt the device's whole history from it.
      makeFix('glitch', 4, { time: now - 1024 * 7 * 86_400_000 }),
      makeFix('glitch', 5, { time: now - 5 * 365 * 86_400_000 }), // old, but an outbox could hold it
    ];
    // Then a readable record with a latitude of 95 (seq 6), and one cut short (seq 8), which
    // names no device or seq that can be trusted.
    const seq6 = makeFix('glitch', 6, { time: now - 1000 });
    const lat95 = encodeFix(seq6);
    lat95.writeInt32LE(95 * 1e7, 3 + uvarintSize(seq6.seq) + uvarintSize(seq6.time));
    const cut = encodeFix(makeFix('glitch', 8, { time: now })).subarray(0, 12);
    await k.producer.send({
      topic: TOPIC,
      messages: [
        ...fixes.map((f) => ({ partition: 0, key: f.deviceId, value: encodeFix(f) })),
        { partition: 0, key: 'glitch', value: lat95 },
        { partition: 0, key: 'glitch', value: encodeFix(makeFix('glitch', 7, { time: now - 500 })) },
        { partition: 0, key: 'glitch', value: cut },
        { partition: 0, key: 'glitch', value: encodeFix(makeFix('glitch', 9, { time: now })) },
      ],
    });
    await waitFor(async () =>
      (await committed(k.admin, 'fix-store', TOPIC)).get(0) === 9 ? true : undefined,
    );
    t.same(
      (await store.track('glitch', 0, Number.MAX_SAFE_INTEGER, 10)).map((f) => f.seq),
      [5, 2, 7, 9, 3],
      'the real fixes are stored, up to an hour ahead and years old too',
    );
    // The refused seqs are not gaps that never fill: 1, 4 and 6 are rejected, 8 (unreadable) pending.
    const device = (await store.devices()).find((d) => d.deviceId === 'glitch')!;
    t.same(device.gaps, [
      { from: 1, to: 1, lost: false, rejected: true },
      { from: 4, to: 4, lost: false, rejected: true },
      { from: 6, to: 6, lost: false, rejected: true },
      { from: 8, to: 8, lost: false, rejected: false },
    ]);
    t.same([device.missing, device.rejected], [1, 3]);
    const { stdout } = await run(
      'kcat',
      ['-C', '-b', k.address, '-t', DLQ, '-o', 'beginning', '-e', '-q', '-f', '%h\\n'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    const [ahead, behind, lat, truncated] = stdout.trim().split('\n');
    t.match(lat, /^x-dlq-reason=lat 95 is outside/);
    t.match(truncated, /^x-dlq-reason=truncated/);
    t.match(
      ahead,
      /^x-dlq-reason=future time 2100-01-01T00:00:00\.000Z: [\d.]+ h ahead of this ingest's clock \(at most 1 h\)/,
      'the dead letter says why',
    );
    t.match(
      behind,
      /^x-dlq-reason=past time \d{4}-.*: 19\.6 years behind this ingest's clock \(at most 10\), a receiver date error such as a GPS week rollover/,
    );
    t.same(
      (await metrics.dlqRecords.get()).values.map((v) => [v.labels.reason, v.value]),
      [
        ['future', 1],
        ['past', 1],
        ['invalid', 1],
        ['truncated', 1],
      ],
    );
  },
);

t.test('a receiver whose every fix is refused is listed as such, with the reason', async (t) => {
  // Its clock 20 years ahead: nothing of it is stored, and the devices list must still name it.
  const { k, store } = await fixStoreOnSqlite(t, 100);
  const ahead = Date.UTC(2046, 2, 1);
  await k.producer.send({
    topic: TOPIC,
    messages: [1, 2, 3].map((seq) => ({
      partition: 0,
      key: 'clock-off',
      value: encodeFix(makeFix('clock-off', seq, { time: ahead + seq * 1000 })),
    })),
  });
  await waitFor(async () => ((await committed(k.admin, 'fix-store', TOPIC)).get(0) === 3 ? true : undefined));
  t.notOk(
    (await store.devices()).some((d) => d.deviceId === 'clock-off'),
    'no fix of it stored',
  );
  const [refused] = (await store.fleet()).refused;
  t.same(
    [refused?.deviceId, refused?.rejected, refused?.missing, refused?.lastRejected.seq],
    ['clock-off', 3, 0, 3],
  );
  t.match(refused?.lastRejected.reason, /^future time 2046-03-01T00:00:03\.000Z: [\d.]+ h ahead/);
});

t.test(
  'a backlog of thousands of bad fixes in one batch is dead-lettered in requests under the size limit',
  async (t) => {
    const { k, store, metrics } = await fixStoreOnSqlite(t, 1000);
    // An older agent draining its outbox after a GPS week rollover: 5,000 fixes dated 1024 weeks
    // back in one produce request, then good ones. With our headers, one DLQ request for all of
    // them is ~1.5 MB, over the broker's 1 MiB limit: refused, the group crashed on it forever.
    const back = Date.now() - 1024 * 7 * 86_400_000;
    const bad = Array.from({ length: 5000 }, (_, i) =>
      makeFix('old-agent', i + 1, { time: back + i * 1000 }),
    );
    await k.producer.send({
      topic: TOPIC,
      messages: bad.map((f) => ({ partition: 0, key: f.deviceId, value: encodeFix(f) })),
    });
    const good = [5001, 5002, 5003].map((s) => makeFix('old-agent', s));
    await k.producer.send({
      topic: TOPIC,
      messages: good.map((f) => ({ partition: 0, key: f.deviceId, value: encodeFix(f) })),
    });
    await waitFor(
      async () => ((await committed(k.admin, 'fix-store', TOPIC)).get(0) === 5003 ? true : undefined),
      100,
    );
    const [dlq] = await k.admin.fetchTopicOffsets(DLQ);
    t.equal(Number(dlq?.high), 5000, 'every bad record is in the DLQ, once');
    t.same(
      (await store.track('old-agent', 0, Number.MAX_SAFE_INTEGER, 10)).map((f) => f.seq),
      [5001, 5002, 5003],
    );
    const device = (await store.devices()).find((d) => d.deviceId === 'old-agent')!;
    t.same([device.rejected, device.missing], [5000, 0], 'the refused seqs are rejected, none missing');
    t.equal((await metrics.sinkErrors.get()).values.length, 0);
  },
);

t.test(
  'a DLQ topic with a small max.message.bytes, and a record with huge headers, still take every bad record',
  async (t) => {
    const k = await startTestBroker();
    // Created before the group does: 10,000 bytes, far below our 256 KiB requests.
    await k.admin.createTopics({
      topics: [
        { topic: DLQ, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '10000' }] },
      ],
      waitForLeaders: true,
    });
    const { store } = await fixStoreOnSqlite(t, 1000, k);
    const back = Date.now() - 1024 * 7 * 86_400_000;
    const bad = Array.from({ length: 2000 }, (_, i) =>
      makeFix('old-agent', i + 1, { time: back + i * 1000 }),
    );
    await k.producer.send({
      topic: TOPIC,
      messages: [
        ...bad.map((f) => ({ partition: 0, key: f.deviceId, value: encodeFix(f) })),
        // Headers of 300 KB: the source topic takes it, no DLQ request with them can be 10,000 bytes.
        { partition: 0, key: 'junk', value: Buffer.from('x'), headers: { big: Buffer.alloc(300_000, 0x61) } },
        { partition: 0, key: 'old-agent', value: encodeFix(makeFix('old-agent', 2001)) },
      ],
    });
    await waitFor(
      async () => ((await committed(k.admin, 'fix-store', TOPIC)).get(0) === 2002 ? true : undefined),
      100,
    );
    const [dlq] = await k.admin.fetchTopicOffsets(DLQ);
    t.equal(Number(dlq?.high), 2001, 'every bad record is in the DLQ, once');
    const { stdout } = await run(
      'kcat',
      ['-C', '-b', k.address, '-t', DLQ, '-o', '2000', '-c', '1', '-e', '-q', '-f', '%h|%s\\n'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    t.match(stdout, /x-dlq-headers-dropped=1 headers/, 'the huge header is dropped, and said so');
    t.match(stdout, /x-original-offset=2000/);
    t.match(stdout, /\|x\n$/, 'the value is kept');
    t.same(
      (await store.track('old-agent', 0, Number.MAX_SAFE_INTEGER, 10)).map((f) => f.seq),
      [2001],
    );
  },
);
