// Bad input over raw sockets: each offending request gets an error or its connection closed,
// while a kafkajs producer on another connection keeps working and nothing stored is lost.
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { pino } from 'pino';
import t from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { Writer } from '../broker/protocol/codec.js';
import { ErrorCode } from '../broker/protocol/errors.js';
import { inProcessBroker, kafka } from './helpers/broker-harness.js';
import {
  buildBatch,
  decodeFetchV11,
  decodeProduceV7,
  fetchBody,
  produceBody,
  RawClient,
} from './helpers/broker-raw.js';

function frame(payload: Buffer, size = payload.length): Buffer {
  const s = Buffer.alloc(4);
  s.writeInt32BE(size);
  return Buffer.concat([s, payload]);
}

function header(apiKey: number, version: number, corr = 7): Buffer {
  return new Writer().int16(apiKey).int16(version).int32(corr).nullableString('bad').toBuffer();
}

t.test('bad input is refused per connection while good clients keep working', async (t) => {
  const b = await inProcessBroker(t, { maxRequestBytes: 64 * 1024, defaultPartitions: 1 });
  const client = kafka(b.address);
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  let sentGood = 0;
  const sendGood = async () => {
    await producer.send({ topic: 'good', acks: -1, messages: [{ value: `good-${sentGood}` }] });
    sentGood++;
  };
  await sendGood();

  const closes = async (name: string, bytes: Buffer, endAfter = false) => {
    const c = await RawClient.connect(b.port);
    c.write(bytes);
    if (endAfter) c.socket.end();
    await c.closed;
    t.pass(`${name}: connection closed`);
    await sendGood();
  };

  await closes('frame over the maximum size', frame(Buffer.alloc(16), 1024 * 1024));
  await closes('negative frame size', frame(Buffer.alloc(16), -5));
  await closes('garbage bytes (an HTTP request)', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await closes('random garbage', Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), randomBytes(200)]));
  await closes('truncated frame then EOF', frame(Buffer.alloc(20), 100), true);
  await closes('unknown API key', frame(header(999, 0)));
  await closes(
    'unsupported Produce version',
    frame(Buffer.concat([header(ApiKey.Produce, 1), Buffer.alloc(20)])),
  );
  // A Metadata v1 body claiming 5 topics but carrying none.
  await closes(
    'truncated body',
    frame(Buffer.concat([header(ApiKey.Metadata, 1), Buffer.from([0, 0, 0, 5])])),
  );

  // ApiVersions with a version we do not know: the protocol's v0-format fallback, not a close.
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const av = await c.request(ApiKey.ApiVersions, 99, Buffer.alloc(0));
  t.equal(av.int16(), ErrorCode.UNSUPPORTED_VERSION, 'ApiVersions v99 answered UNSUPPORTED_VERSION');
  const keys = av.array((r) => [r.int16(), r.int16(), r.int16()]);
  t.ok(
    keys.some(([k, , max]) => k === ApiKey.ApiVersions && max === 3),
    'with our version list for the retry',
  );

  // Produce errors on a connection that stays usable.
  const missing = decodeProduceV7(
    await c.request(ApiKey.Produce, 7, produceBody('good', 5, buildBatch([{ value: 'x' }]))),
  );
  t.equal(missing.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'produce to a missing partition');
  const noTopic = decodeProduceV7(
    await c.request(ApiKey.Produce, 7, produceBody('no-such-topic', 0, buildBatch([{ value: 'x' }]))),
  );
  t.equal(noTopic.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'produce to a missing topic');
  const corrupt = buildBatch([{ value: 'will be corrupted' }]);
  corrupt[corrupt.length - 3]! ^= 0xff;
  const bad = decodeProduceV7(await c.request(ApiKey.Produce, 7, produceBody('good', 0, corrupt)));
  t.equal(bad.errorCode, ErrorCode.CORRUPT_MESSAGE, 'CRC mismatch refused');
  const two = Buffer.concat([buildBatch([{ value: 'a' }]), buildBatch([{ value: 'b' }])]);
  const twoRes = decodeProduceV7(await c.request(ApiKey.Produce, 7, produceBody('good', 0, two)));
  t.equal(twoRes.errorCode, ErrorCode.INVALID_RECORD, 'two batches in one produce refused');
  const acks = decodeProduceV7(
    await c.request(ApiKey.Produce, 7, produceBody('good', 0, buildBatch([{ value: 'x' }]), 2)),
  );
  t.equal(acks.errorCode, ErrorCode.INVALID_REQUIRED_ACKS, 'acks=2 refused');

  await sendGood();
  // Everything good is there, nothing bad is.
  const f = decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody('good', 0, 0)));
  t.equal(f.errorCode, 0);
  t.equal(f.highWatermark, sentGood, `exactly the ${sentGood} good records are stored`);
  t.notOk(f.records.includes(Buffer.from('will be corrupted')), 'corrupt batch not stored');

  const below = decodeFetchV11(await c.request(ApiKey.Fetch, 11, fetchBody('good', 0, sentGood + 10)));
  t.equal(below.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, 'fetch past the end is OFFSET_OUT_OF_RANGE');
});

t.test('a batch over max.message.bytes is refused with MESSAGE_TOO_LARGE', async (t) => {
  const b = await inProcessBroker(t, { topicDefaults: { maxMessageBytes: 1000 }, defaultPartitions: 1 });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  await c.request(ApiKey.Metadata, 4, new Writer().int32(1).string('big').bool(true));
  const r = decodeProduceV7(
    await c.request(ApiKey.Produce, 7, produceBody('big', 0, buildBatch([{ value: Buffer.alloc(2000) }]))),
  );
  t.equal(r.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
});

t.test('a client that pipelines requests and never reads does not hold up others', async (t) => {
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  b.context.topics.create('big', 1);
  const log = b.context.topics.partition('big', 0)!;
  for (let i = 0; i < 20; i++) log.append(buildBatch([{ value: Buffer.alloc(100_000, i) }]));
  const hog = await RawClient.connect(b.port);
  t.teardown(() => hog.close());
  hog.socket.pause(); // never reads: the broker's writes back up
  const one = Buffer.concat([
    new Writer().int16(ApiKey.Fetch).int16(11).int32(1).nullableString('hog').toBuffer(),
    fetchBody('big', 0, 0).toBuffer(),
  ]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(one.length);
  const frame = Buffer.concat([size, one]);
  for (let i = 0; i < 300; i++) hog.write(frame); // ~600 MB of responses if all were answered
  await new Promise((r) => setTimeout(r, 300));
  const producer = kafka(b.address).producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const [res] = await producer.send({ topic: 'big', acks: -1, messages: [{ value: 'still served' }] });
  t.equal(res?.baseOffset, '20', 'another client is served while the hog is stuck');
  // The hog's responses wait for its socket to drain instead of piling up in memory.
  t.ok(process.memoryUsage().rss < 400 * 1024 * 1024, 'memory stays bounded');
});

t.test('a TLS client on the plaintext port is told apart from a huge request', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(s) });
  const b = await inProcessBroker(t, { logger });
  // A real ClientHello (0x16 0x03 0x01 ...), as a client set to TLS sends first: before, the log
  // said "request size 369295617 exceeds the maximum" on every attempt.
  const s = tls.connect({ host: '127.0.0.1', port: b.port, rejectUnauthorized: false });
  await new Promise<void>((resolve) => {
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
  const bad = lines.map((l) => JSON.parse(l) as { msg: string; reason?: string }).filter((l) => l.reason);
  t.equal(bad.length, 1, 'one line for the connection');
  t.match(
    bad[0]!.reason,
    /^looks like a TLS handshake on a plaintext listener \(is the client set to TLS\?\)/,
  );
  t.notMatch(bad[0]!.reason, /exceeds the maximum/);
  // A size that is merely too big still says so.
  const big = await RawClient.connect(b.port);
  big.socket.write(Buffer.from([0x7f, 0, 0, 0]));
  await big.closed;
  t.match(lines.join(''), /request size 2130706432 exceeds the maximum/);
});
