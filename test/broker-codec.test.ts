// Wire primitives, CRC-32C and framing: round trips, known vectors, and refusal of truncated or
// lying input without reading past the buffer.
import t from 'tap';
import { ProtocolError, Reader, Writer } from '../broker/protocol/codec.js';
import { FrameDecoder, FrameError } from '../broker/server/framing.js';
import { crc32c } from '../broker/storage/crc32c.js';

t.test('primitives round trip', async (t) => {
  const w = new Writer(4); // tiny on purpose: forces growth mid-value
  w.int8(-5)
    .int16(-300)
    .int32(-70000)
    .uint32(0xfffffff0)
    .int64(-(2n ** 40n))
    .bool(true);
  w.uvarint(0).uvarint(300).uvarint(0xffffffff).varint(-1).varint(150).varint(-2147483648);
  w.varlong(-(2n ** 62n)).varlong(12345678901234n);
  w.string('héllo').nullableString(null).compactString('ça').compactNullableString(null);
  w.bytes(Buffer.from([1, 2, 3]))
    .nullableBytes(null)
    .compactBytes(Buffer.from([9]))
    .compactNullableBytes(null);
  w.array([1, 2], (w, n) => w.int32(n)).nullableArray(null, () => {});
  w.compactArray(['a', 'b'], (w, s) => w.compactString(s)).compactNullableArray(null, () => {});
  w.taggedFields().uuid('0123456789abcdef0123456789abcdef');
  const r = new Reader(w.toBuffer());
  t.equal(r.int8(), -5);
  t.equal(r.int16(), -300);
  t.equal(r.int32(), -70000);
  t.equal(r.uint32(), 0xfffffff0);
  t.equal(r.int64(), -(2n ** 40n));
  t.equal(r.bool(), true);
  t.same([r.uvarint(), r.uvarint(), r.uvarint()], [0, 300, 0xffffffff]);
  t.same([r.varint(), r.varint(), r.varint()], [-1, 150, -2147483648]);
  t.equal(r.varlong(), -(2n ** 62n));
  t.equal(r.varlong(), 12345678901234n);
  t.equal(r.string(), 'héllo');
  t.equal(r.nullableString(), null);
  t.equal(r.compactString(), 'ça');
  t.equal(r.compactNullableString(), null);
  t.same([...r.bytes()], [1, 2, 3]);
  t.equal(r.nullableBytes(), null);
  t.same([...r.compactBytes()], [9]);
  t.equal(r.compactNullableBytes(), null);
  t.same(
    r.array((r) => r.int32()),
    [1, 2],
  );
  t.equal(
    r.nullableArray((r) => r.int32()),
    null,
  );
  t.same(
    r.compactArray((r) => r.compactString()),
    ['a', 'b'],
  );
  t.equal(
    r.compactNullableArray((r) => r.int8()),
    null,
  );
  r.taggedFields();
  t.equal(r.uuid(), '0123456789abcdef0123456789abcdef');
  t.equal(r.remaining, 0, 'everything consumed');
});

t.test('unknown tagged fields are skipped', async (t) => {
  const w = new Writer()
    .uvarint(2)
    .uvarint(0)
    .uvarint(3)
    .raw(Buffer.from('abc'))
    .uvarint(7)
    .uvarint(0)
    .int32(42);
  const r = new Reader(w.toBuffer());
  r.taggedFields();
  t.equal(r.int32(), 42);
});

t.test('truncated or lying input throws ProtocolError, never reads past the end', async (t) => {
  const cases: [string, Buffer, (r: Reader) => unknown, string][] = [
    ['int32 with 2 bytes', Buffer.from([0, 1]), (r) => r.int32(), 'truncated'],
    [
      'string longer than the buffer',
      new Writer().int16(50).raw(Buffer.from('abc')).toBuffer(),
      (r) => r.string(),
      'truncated',
    ],
    ['bytes with a negative length', new Writer().int32(-7).toBuffer(), (r) => r.bytes(), 'negative-length'],
    [
      'array claiming 2 billion items',
      new Writer().int32(2_000_000_000).toBuffer(),
      (r) => r.array((r) => r.int8()),
      'truncated',
    ],
    ['endless varint', Buffer.alloc(6, 0xff), (r) => r.uvarint(), 'varint-too-long'],
    ['null required string', new Writer().int16(-1).toBuffer(), (r) => r.string(), 'invalid-value'],
    [
      'tagged field longer than the buffer',
      new Writer().uvarint(1).uvarint(0).uvarint(100).toBuffer(),
      (r) => r.taggedFields(),
      'truncated',
    ],
    [
      'reader bounded by end',
      Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]),
      (r) => new Reader(r.buf, 0, 4).raw(5),
      'truncated',
    ],
  ];
  for (const [name, buf, read, reason] of cases) {
    t.throws(() => read(new Reader(buf)), new ProtocolError(reason as never, ''), name);
    try {
      read(new Reader(buf));
    } catch (e) {
      t.equal((e as ProtocolError).reason, reason, `${name}: reason ${reason}`);
    }
  }
});

t.test('CRC-32C known vectors', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'the standard check value');
  t.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa, '32 zero bytes (RFC 3720)');
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43, '32 0xff bytes (RFC 3720)');
  const b = Buffer.from('xx123456789yy');
  t.equal(crc32c(b, 2, 11), 0xe3069283, 'over a sub-range');
});

t.test('frame decoder: split frames, several per chunk, size limits', async (t) => {
  const d = new FrameDecoder(100);
  const f1 = Buffer.concat([Buffer.from([0, 0, 0, 12]), Buffer.alloc(12, 1)]);
  const f2 = Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.alloc(10, 2)]);
  const all = Buffer.concat([f1, f2]);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i++) out.push(...d.push(all.subarray(i, i + 1))); // byte by byte
  t.same(
    out.map((f) => [f.length, f[0]]),
    [
      [12, 1],
      [10, 2],
    ],
  );
  t.equal(d.push(all).length, 2, 'two frames in one chunk');
  t.throws(() => new FrameDecoder(100).push(Buffer.from([0, 0, 1, 0])), FrameError, 'over the maximum');
  t.throws(() => new FrameDecoder(100).push(Buffer.from([0xff, 0xff, 0xff, 0xff])), FrameError, 'negative');
  t.throws(() => new FrameDecoder(100).push(Buffer.from([0, 0, 0, 3])), FrameError, 'below a header');
});
