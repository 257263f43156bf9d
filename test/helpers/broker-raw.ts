// Raw Kafka wire tools for the broker tests: a record batch (v2) builder and a minimal client
// that sends one request frame and reads its response, so tests can send exactly the bytes a
// misbehaving or retrying client would.
import { connect, type Socket } from 'node:net';
import { Reader, Writer } from '../../broker/protocol/codec.js';
import { crc32c } from '../../broker/storage/crc32c.js';

export interface RawRecord {
  key?: string | null;
  value: string | Buffer;
  timestamp?: number;
}

export interface BatchOptions {
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  baseTimestamp?: number;
}

/** A magic-2 record batch with a correct CRC-32C (baseOffset 0, as producers send it). */
export function buildBatch(records: RawRecord[], o: BatchOptions = {}): Buffer {
  const base = o.baseTimestamp ?? Date.now();
  const body = new Writer();
  let maxTs = base;
  records.forEach((r, i) => {
    const ts = r.timestamp ?? base;
    if (ts > maxTs) maxTs = ts;
    const rec = new Writer();
    rec
      .int8(0)
      .varlong(BigInt(ts - base))
      .varint(i);
    if (r.key == null) rec.varint(-1);
    else {
      const k = Buffer.from(r.key);
      rec.varint(k.length).raw(k);
    }
    const v = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    rec.varint(v.length).raw(v).varint(0);
    const rb = rec.toBuffer();
    body.varint(rb.length).raw(rb);
  });
  const w = new Writer();
  w.int64(0).int32(0).int32(-1).int8(2).uint32(0);
  w.int16(0)
    .int32(records.length - 1)
    .int64(base)
    .int64(maxTs);
  w.int64(o.producerId ?? -1)
    .int16(o.producerEpoch ?? -1)
    .int32(o.baseSequence ?? -1);
  w.int32(records.length).raw(body.toBuffer());
  const b = Buffer.from(w.toBuffer());
  b.writeInt32BE(b.length - 12, 8);
  b.writeUInt32BE(crc32c(b, 21), 17);
  return b;
}

/** Produce v7 request body: one topic, one partition, one record set. */
export function produceBody(topic: string, partition: number, records: Buffer | null, acks = -1): Writer {
  const w = new Writer();
  w.nullableString(null).int16(acks).int32(10_000);
  w.int32(1).string(topic).int32(1).int32(partition).nullableBytes(records);
  return w;
}

export interface ProduceAnswer {
  errorCode: number;
  baseOffset: number;
}

export function decodeProduceV7(r: Reader): ProduceAnswer {
  r.int32(); // topics
  r.string();
  r.int32(); // partitions
  r.int32();
  const errorCode = r.int16();
  const baseOffset = r.int64n();
  return { errorCode, baseOffset };
}

/** Fetch v11 request body for one partition. */
export function fetchBody(topic: string, partition: number, offset: number, maxWaitMs = 0): Writer {
  const w = new Writer();
  w.int32(-1)
    .int32(maxWaitMs)
    .int32(1)
    .int32(10 * 1024 * 1024)
    .int8(0)
    .int32(0)
    .int32(-1);
  w.int32(1)
    .string(topic)
    .int32(1)
    .int32(partition)
    .int32(-1)
    .int64(offset)
    .int64(-1)
    .int32(1024 * 1024);
  w.int32(0).string('');
  return w;
}

export interface FetchAnswer {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer;
}

export function decodeFetchV11(r: Reader): FetchAnswer {
  r.int32(); // throttle
  r.int16(); // error
  r.int32(); // session
  r.int32(); // topics
  r.string();
  r.int32(); // partitions
  r.int32();
  const errorCode = r.int16();
  const highWatermark = r.int64n();
  r.int64(); // lso
  const logStartOffset = r.int64n();
  r.int32(); // aborted (null)
  r.int32(); // preferred replica
  const records = r.bytes();
  return { errorCode, highWatermark, logStartOffset, records };
}

/** Offsets of the batches in a fetched record set, and the values of their records (uncompressed). */
export function batchOffsets(records: Buffer): number[] {
  const out: number[] = [];
  let p = 0;
  while (p + 12 <= records.length) {
    out.push(Number(records.readBigInt64BE(p)));
    p += 12 + records.readInt32BE(p + 8);
  }
  return out;
}

export class RawClient {
  private buf = Buffer.alloc(0);
  private waiting: { corr: number; flexible: boolean; resolve: (r: Reader) => void }[] = [];
  private corr = 1;
  closed: Promise<void>;

  private constructor(
    readonly socket: Socket,
    private readonly clientId: string,
  ) {
    socket.on('data', (d) => this.onData(d));
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1', clientId = 'raw-test'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new RawClient(s, clientId)));
      s.once('error', reject);
    });
  }

  /**
   * Send a request (header v1, or v2 with flexibleHeader); resolves with a Reader right after the
   * correlation id: for a flexible version other than ApiVersions the caller reads the response
   * header's tagged fields. Responses must come back in request order (Kafka's per-connection
   * guarantee): one that does not is thrown as an error. Never settles if the connection closes
   * first (await `closed` for that).
   */
  request(apiKey: number, version: number, body: Writer | Buffer, flexibleHeader = false): Promise<Reader> {
    const corr = this.corr++;
    const h = new Writer();
    h.int16(apiKey).int16(version).int32(corr).nullableString(this.clientId);
    if (flexibleHeader) h.taggedFields();
    const payload = Buffer.concat([h.toBuffer(), body instanceof Writer ? body.toBuffer() : body]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    this.socket.write(Buffer.concat([size, payload]));
    return new Promise((resolve) => this.waiting.push({ corr, flexible: false, resolve }));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const size = this.buf.readInt32BE(0);
      if (this.buf.length < 4 + size) break;
      const frame = this.buf.subarray(4, 4 + size);
      this.buf = this.buf.subarray(4 + size);
      const r = new Reader(Buffer.from(frame));
      const corr = r.int32();
      const w = this.waiting.shift();
      if (!w || w.corr !== corr) throw new Error(`response correlation ${corr} out of order`);
      w.resolve(r);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
