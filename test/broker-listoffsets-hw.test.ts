// ListOffsets tells a consumer only about what Fetch serves: "latest" is the high watermark (the
// fsync'ed end), not the log end, and a timestamp lookup never lands on a batch past it, as Kafka
// answers consumers (replica_id -1) for both isolation levels. A follower id (>= 0) or the
// debugging id (-2) gets the log end, as in Kafka. The fsync is held for real by gating the
// broker's background fsyncs (helpers/background-fsync.ts), as test/broker-visibility.test.ts
// does, so acks=0/1 data sits written but not durable while the answers are compared.
import t, { type Test } from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { type Reader, Writer } from '../broker/protocol/codec.js';
import { wrapBackgroundFsync } from './helpers/background-fsync.js';
import { inProcessBroker, kafka } from './helpers/broker-harness.js';
import { buildBatch, decodeFetchV11, fetchBody, produceBody, RawClient } from './helpers/broker-raw.js';
import { runCommand } from './helpers/run.js';

/** Gates every background fsync while held; released at teardown so the broker can stop. */
function holdableFsync(t: Test): { hold(): void; release(): void } {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  wrapBackgroundFsync(t, (real) => gate.then(real));
  const release = () => {
    open();
    gate = Promise.resolve();
  };
  t.teardown(release);
  return {
    hold() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release,
  };
}

interface Query {
  version: number;
  timestamp: number;
  replicaId?: number;
  isolation?: number;
}

function listOffsetsBody(topic: string, q: Query): Writer {
  const flex = q.version >= 6;
  const w = new Writer().int32(q.replicaId ?? -1);
  if (q.version >= 2) w.int8(q.isolation ?? 0);
  w.arr(flex, [topic], (w, name) => {
    w.str(flex, name);
    w.arr(flex, [0], (w, p) => {
      w.int32(p);
      if (q.version >= 4) w.int32(-1); // current_leader_epoch: unknown
      w.int64(q.timestamp);
      w.tags(flex);
    });
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}

async function listOffsets(
  c: RawClient,
  topic: string,
  q: Query,
): Promise<{ offset: number; timestamp: number }> {
  const flex = q.version >= 6;
  const r: Reader = await c.request(ApiKey.ListOffsets, q.version, listOffsetsBody(topic, q), flex);
  r.tags(flex); // response header
  if (q.version >= 2) r.int32(); // throttle
  const [p] = r.arr(flex, (r) => {
    r.str(flex);
    const ps = r.arr(flex, (r) => {
      r.int32();
      const errorCode = r.int16();
      const timestamp = r.int64n();
      const offset = r.int64n();
      if (q.version >= 4) r.int32();
      r.tags(flex);
      return { errorCode, timestamp, offset };
    });
    r.tags(flex);
    return ps[0]!;
  });
  if (p?.errorCode !== 0) throw new Error(`ListOffsets v${q.version}: error ${p?.errorCode}`);
  return { offset: p.offset, timestamp: p.timestamp };
}

/** The offset after the last batch a Fetch from 0 returns: the end of what a consumer can read. */
async function readableEnd(c: RawClient, topic: string): Promise<{ end: number; highWatermark: number }> {
  const f = decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody(topic, 0, 0)));
  let end = 0;
  for (let p = 0; p + 27 <= f.records.length; p += 12 + f.records.readInt32BE(p + 8)) {
    end = Number(f.records.readBigInt64BE(p)) + f.records.readInt32BE(p + 23) + 1; // base + lastOffsetDelta + 1
  }
  return { end, highWatermark: f.highWatermark };
}

/** Produce v7 with acks=0: the broker sends no response, so no waiter is registered for one. */
function produceAcks0(c: RawClient, topic: string, batch: Buffer): void {
  const h = new Writer().int16(ApiKey.Produce).int16(7).int32(0x7fff_0000).nullableString('raw-acks0');
  const payload = Buffer.concat([h.toBuffer(), produceBody(topic, 0, batch, 0).toBuffer()]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  c.write(Buffer.concat([size, payload]));
}

const VERSIONS = [1, 2, 3, 4, 5, 6, 7];

t.test('ListOffsets: a consumer is told the high watermark, a follower the log end (v1-v7)', async (t) => {
  const fsync = holdableFsync(t);
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  b.context.topics.create('hw', 1);
  const log = b.context.topics.partition('hw', 0)!;
  const c = await RawClient.connect(b.port);
  const reader = await RawClient.connect(b.port);
  t.teardown(() => {
    c.close();
    reader.close();
  });

  // Offsets 0-2 at t=1000, durable (acks=-1 waits for the fsync round).
  const a = buildBatch([{ value: 'a0' }, { value: 'a1' }, { value: 'a2' }], { baseTimestamp: 1000 });
  await c.request(ApiKey.Produce, 7, produceBody('hw', 0, a, -1));
  fsync.hold();
  // Offsets 3-4 at t=2000 with acks=1 and offset 5 at t=3000 with acks=0: written, not fsync'ed.
  const bBatch = buildBatch([{ value: 'b0' }, { value: 'b1' }], { baseTimestamp: 2000 });
  await c.request(ApiKey.Produce, 7, produceBody('hw', 0, bBatch, 1));
  produceAcks0(c, 'hw', buildBatch([{ value: 'c0' }], { baseTimestamp: 3000 }));
  // The next answer on the same connection comes after the acks=0 produce was handled.
  await listOffsets(c, 'hw', { version: 7, timestamp: -2 });
  t.equal(log.logEndOffset, 6, 'all six records are in the log');
  t.equal(log.highWatermark, 3, "only the first batch is fsync'ed");

  const before = await readableEnd(reader, 'hw');
  t.same(before, { end: 3, highWatermark: 3 }, 'Fetch serves offsets 0-2 only');
  for (const version of VERSIONS) {
    for (const isolation of version >= 2 ? [0, 1] : [0]) {
      const latest = await listOffsets(c, 'hw', { version, timestamp: -1, isolation });
      t.equal(latest.offset, before.end, `v${version} isolation ${isolation}: latest = what Fetch reads`);
    }
    t.same(await listOffsets(c, 'hw', { version, timestamp: -2 }), { offset: 0, timestamp: -1 }, 'earliest');
    t.same(
      await listOffsets(c, 'hw', { version, timestamp: 500 }),
      { offset: 0, timestamp: 1000 },
      `v${version}: a timestamp found below the high watermark`,
    );
    t.same(
      await listOffsets(c, 'hw', { version, timestamp: 1500 }),
      { offset: -1, timestamp: -1 },
      `v${version}: a timestamp whose batch is not readable yet finds nothing`,
    );
  }
  t.same(
    await listOffsets(c, 'hw', { version: 7, timestamp: -3 }),
    { offset: -1, timestamp: -1 },
    'max timestamp: its batch is past the high watermark, so none (as Kafka answers)',
  );
  for (const replicaId of [0, -2]) {
    t.equal(
      (await listOffsets(c, 'hw', { version: 7, timestamp: -1, replicaId })).offset,
      6,
      `replica_id ${replicaId} (not a consumer): the log end`,
    );
    t.same(
      await listOffsets(c, 'hw', { version: 7, timestamp: 1500, replicaId }),
      { offset: 3, timestamp: 2000 },
      `replica_id ${replicaId}: timestamps searched to the log end`,
    );
  }

  fsync.release();
  await log.flush();
  const after = await readableEnd(reader, 'hw');
  t.same(after, { end: 6, highWatermark: 6 }, 'after the fsync round Fetch serves everything');
  for (const version of VERSIONS) {
    t.equal(
      (await listOffsets(c, 'hw', { version, timestamp: -1 })).offset,
      6,
      `v${version}: latest = log end`,
    );
  }
  t.same(
    await listOffsets(c, 'hw', { version: 7, timestamp: 1500 }),
    { offset: 3, timestamp: 2000 },
    'the timestamp lookup now finds the acks=1 batch',
  );
  t.same(
    await listOffsets(c, 'hw', { version: 7, timestamp: -3 }),
    { offset: 5, timestamp: 3000 },
    'and max timestamp the acks=0 one',
  );
});

t.test('kafkajs fetchTopicOffsets and kcat -Q see the high watermark, then the end', async (t) => {
  const fsync = holdableFsync(t);
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  b.context.topics.create('clients', 1);
  const log = b.context.topics.partition('clients', 0)!;
  const client = kafka(b.address);
  const admin = client.admin();
  const producer = client.producer();
  await admin.connect();
  await producer.connect();
  t.teardown(async () => {
    await producer.disconnect();
    await admin.disconnect();
  });
  const kcatLatest = async () => {
    const r = await runCommand('kcat', ['-Q', '-b', b.address, '-t', 'clients:0:-1'], { timeoutMs: 30_000 });
    t.equal(r.code, 0, 'kcat -Q exited 0', { stderr: r.stderr });
    const m = /^clients \[0\] offset (-?\d+)$/m.exec(r.stdout);
    if (!m) throw new Error(`unexpected kcat -Q output: ${r.stdout}`);
    return Number(m[1]);
  };

  await producer.send({ topic: 'clients', acks: -1, messages: [{ value: 'x0' }, { value: 'x1' }] });
  fsync.hold();
  await producer.send({
    topic: 'clients',
    acks: 1,
    messages: [{ value: 'y0' }, { value: 'y1' }, { value: 'y2' }],
  });
  t.same([log.logEndOffset, log.highWatermark], [5, 2], "acks=1 batch written, not fsync'ed");

  const [held] = await admin.fetchTopicOffsets('clients');
  t.same([held!.high, held!.offset], ['2', '2'], 'kafkajs: the high watermark, not the log end (5)');
  t.equal(await kcatLatest(), 2, 'kcat (librdkafka): the high watermark');

  fsync.release();
  await log.flush();
  const [done] = await admin.fetchTopicOffsets('clients');
  t.equal(done!.high, '5', "kafkajs: the end once fsync'ed");
  t.equal(await kcatLatest(), 5, "kcat: the end once fsync'ed");
});

t.test('an unknown isolation level closes that connection only', async (t) => {
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  b.context.topics.create('iso', 1);
  const bad = await RawClient.connect(b.port);
  const good = await RawClient.connect(b.port);
  t.teardown(() => {
    bad.close();
    good.close();
  });
  const outcome = await Promise.race([
    bad.closed.then(() => 'closed'),
    bad
      .request(
        ApiKey.ListOffsets,
        7,
        listOffsetsBody('iso', { version: 7, timestamp: -1, isolation: 2 }),
        true,
      )
      .then(() => 'answered'),
  ]);
  t.equal(outcome, 'closed', 'isolation_level 2: connection closed, nothing answered');
  const answer = await listOffsets(good, 'iso', { version: 7, timestamp: -1, isolation: 1 });
  t.same(answer, { offset: 0, timestamp: -1 }, 'another connection is answered');
});
