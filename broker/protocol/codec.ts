// Reader and Writer for the Kafka wire primitives (big-endian ints, zig-zag varints, strings,
// bytes, arrays, their "compact" flexible-version forms, tagged fields, UUIDs).
//
// Every read checks the bytes are there first and throws ProtocolError instead of reading past
// the buffer, so a truncated or hostile request becomes one error response (or one closed
// connection), never a crash or a read of another request's bytes.

export type ProtocolErrorReason =
  | 'truncated'
  | 'negative-length'
  | 'varint-too-long'
  | 'invalid-value'
  | 'unsupported';

export class ProtocolError extends Error {
  constructor(
    readonly reason: ProtocolErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

export class Reader {
  offset: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    readonly end = buf.length,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, what: string): number {
    if (n < 0) throw new ProtocolError('negative-length', `negative length ${n} for ${what}`);
    if (this.offset + n > this.end) {
      throw new ProtocolError(
        'truncated',
        `truncated input: ${what} needs ${n} bytes at offset ${this.offset}, ${this.remaining} left`,
      );
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  bool(): boolean {
    return this.int8() !== 0;
  }
  int8(): number {
    return this.buf.readInt8(this.need(1, 'int8'));
  }
  int16(): number {
    return this.buf.readInt16BE(this.need(2, 'int16'));
  }
  int32(): number {
    return this.buf.readInt32BE(this.need(4, 'int32'));
  }
  uint32(): number {
    return this.buf.readUInt32BE(this.need(4, 'uint32'));
  }
  int64(): bigint {
    return this.buf.readBigInt64BE(this.need(8, 'int64'));
  }
  /** int64 as a number; throws if it does not fit exactly (offsets, timestamps, ids all do). */
  int64n(): number {
    const v = this.int64();
    if (v > MAX_SAFE || v < MIN_SAFE)
      throw new ProtocolError('invalid-value', `int64 ${v} out of safe range`);
    return Number(v);
  }
  float64(): number {
    return this.buf.readDoubleBE(this.need(8, 'float64'));
  }

  /** Unsigned LEB128 up to 32 bits. */
  uvarint(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.buf[this.need(1, 'varint')]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new ProtocolError('varint-too-long', 'uvarint exceeds 32 bits');
        return result;
      }
    }
    throw new ProtocolError('varint-too-long', 'uvarint longer than 5 bytes');
  }
  /** Zig-zag signed varint (32-bit). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  /** Zig-zag signed varlong (64-bit). */
  varlong(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.buf[this.need(1, 'varlong')]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (result >> 1n) ^ -(result & 1n);
    }
    throw new ProtocolError('varint-too-long', 'varlong longer than 10 bytes');
  }

  raw(n: number, what = 'bytes'): Buffer {
    const at = this.need(n, what);
    return this.buf.subarray(at, at + n);
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new ProtocolError('invalid-value', 'null where a string is required');
    return s;
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    return this.raw(len, 'string').toString('utf8');
  }
  compactString(): string {
    const s = this.compactNullableString();
    if (s === null) throw new ProtocolError('invalid-value', 'null where a string is required');
    return s;
  }
  compactNullableString(): string | null {
    const len = this.uvarint() - 1;
    if (len === -1) return null;
    return this.raw(len, 'compact string').toString('utf8');
  }
  /** String in the form the API version uses: compact when flexible. */
  str(flexible: boolean): string {
    return flexible ? this.compactString() : this.string();
  }
  nullableStr(flexible: boolean): string | null {
    return flexible ? this.compactNullableString() : this.nullableString();
  }

  bytes(): Buffer {
    const b = this.nullableBytes();
    if (b === null) throw new ProtocolError('invalid-value', 'null where bytes are required');
    return b;
  }
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    return this.raw(len, 'bytes');
  }
  compactBytes(): Buffer {
    const b = this.compactNullableBytes();
    if (b === null) throw new ProtocolError('invalid-value', 'null where bytes are required');
    return b;
  }
  compactNullableBytes(): Buffer | null {
    const len = this.uvarint() - 1;
    if (len === -1) return null;
    return this.raw(len, 'compact bytes');
  }
  nullableBytesV(flexible: boolean): Buffer | null {
    return flexible ? this.compactNullableBytes() : this.nullableBytes();
  }

  private arrayOf<T>(len: number, item: (r: Reader) => T): T[] {
    // Each element takes at least one byte, so a length beyond what is left is a lie: refuse it
    // before allocating rather than looping on a 2-billion-element claim.
    if (len > this.remaining) {
      throw new ProtocolError('truncated', `array of ${len} elements but only ${this.remaining} bytes left`);
    }
    const out: T[] = [];
    for (let i = 0; i < len; i++) out.push(item(this));
    return out;
  }
  array<T>(item: (r: Reader) => T): T[] {
    const a = this.nullableArray(item);
    if (a === null) throw new ProtocolError('invalid-value', 'null where an array is required');
    return a;
  }
  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < -1) throw new ProtocolError('negative-length', `array length ${len}`);
    return this.arrayOf(len, item);
  }
  compactArray<T>(item: (r: Reader) => T): T[] {
    const a = this.compactNullableArray(item);
    if (a === null) throw new ProtocolError('invalid-value', 'null where an array is required');
    return a;
  }
  compactNullableArray<T>(item: (r: Reader) => T): T[] | null {
    const len = this.uvarint() - 1;
    if (len === -1) return null;
    return this.arrayOf(len, item);
  }
  /** Array in the form the API version uses: compact when flexible. */
  arr<T>(flexible: boolean, item: (r: Reader) => T): T[] {
    return flexible ? this.compactArray(item) : this.array(item);
  }
  nullableArr<T>(flexible: boolean, item: (r: Reader) => T): T[] | null {
    return flexible ? this.compactNullableArray(item) : this.nullableArray(item);
  }

  /** Tagged fields: none are understood by this broker's APIs, so all are skipped. */
  taggedFields(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint(); // tag
      const size = this.uvarint();
      this.need(size, 'tagged field');
    }
  }
  /** Tagged fields only exist in flexible versions. */
  tags(flexible: boolean): void {
    if (flexible) this.taggedFields();
  }

  /** UUID as 32 lowercase hex digits (no dashes), as Kafka topic ids are compared bytewise. */
  uuid(): string {
    return this.raw(16, 'uuid').toString('hex');
  }
}

/** Growable output buffer; `toBuffer()` returns exactly the bytes written. */
export class Writer {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.len;
  }

  private room(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  private byte(v: number): void {
    const at = this.room(1);
    this.buf[at] = v;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }
  int8(v: number): this {
    const at = this.room(1);
    this.buf.writeInt8(v, at);
    return this;
  }
  int16(v: number): this {
    const at = this.room(2);
    this.buf.writeInt16BE(v, at);
    return this;
  }
  int32(v: number): this {
    const at = this.room(4);
    this.buf.writeInt32BE(v, at);
    return this;
  }
  uint32(v: number): this {
    const at = this.room(4);
    this.buf.writeUInt32BE(v, at);
    return this;
  }
  int64(v: bigint | number): this {
    const at = this.room(8);
    this.buf.writeBigInt64BE(BigInt(v), at);
    return this;
  }
  float64(v: number): this {
    const at = this.room(8);
    this.buf.writeDoubleBE(v, at);
    return this;
  }
  uvarint(v: number): this {
    if (v < 0 || v > 0xffffffff || !Number.isInteger(v)) throw new RangeError(`uvarint out of range: ${v}`);
    let x = v;
    while (x >= 0x80) {
      this.byte((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    this.byte(x);
    return this;
  }
  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  varlong(v: bigint): this {
    let x = (v << 1n) ^ (v >> 63n);
    x = BigInt.asUintN(64, x);
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
    return this;
  }
  raw(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }

  string(s: string): this {
    const n = Buffer.byteLength(s);
    this.int16(n);
    const at = this.room(n);
    this.buf.write(s, at, 'utf8');
    return this;
  }
  nullableString(s: string | null | undefined): this {
    if (s == null) return this.int16(-1);
    return this.string(s);
  }
  compactString(s: string): this {
    const n = Buffer.byteLength(s);
    this.uvarint(n + 1);
    const at = this.room(n);
    this.buf.write(s, at, 'utf8');
    return this;
  }
  compactNullableString(s: string | null | undefined): this {
    if (s == null) return this.uvarint(0);
    return this.compactString(s);
  }
  str(flexible: boolean, s: string): this {
    return flexible ? this.compactString(s) : this.string(s);
  }
  nullableStr(flexible: boolean, s: string | null | undefined): this {
    return flexible ? this.compactNullableString(s) : this.nullableString(s);
  }

  bytes(b: Uint8Array): this {
    this.int32(b.length);
    return this.raw(b);
  }
  nullableBytes(b: Uint8Array | null | undefined): this {
    if (b == null) return this.int32(-1);
    return this.bytes(b);
  }
  compactBytes(b: Uint8Array): this {
    this.uvarint(b.length + 1);
    return this.raw(b);
  }
  compactNullableBytes(b: Uint8Array | null | undefined): this {
    if (b == null) return this.uvarint(0);
    return this.compactBytes(b);
  }
  nullableBytesV(flexible: boolean, b: Uint8Array | null | undefined): this {
    return flexible ? this.compactNullableBytes(b) : this.nullableBytes(b);
  }

  array<T>(items: readonly T[], write: (w: Writer, item: T) => void): this {
    this.int32(items.length);
    for (const it of items) write(this, it);
    return this;
  }
  nullableArray<T>(items: readonly T[] | null | undefined, write: (w: Writer, item: T) => void): this {
    if (items == null) return this.int32(-1);
    return this.array(items, write);
  }
  compactArray<T>(items: readonly T[], write: (w: Writer, item: T) => void): this {
    this.uvarint(items.length + 1);
    for (const it of items) write(this, it);
    return this;
  }
  compactNullableArray<T>(items: readonly T[] | null | undefined, write: (w: Writer, item: T) => void): this {
    if (items == null) return this.uvarint(0);
    return this.compactArray(items, write);
  }
  arr<T>(flexible: boolean, items: readonly T[], write: (w: Writer, item: T) => void): this {
    return flexible ? this.compactArray(items, write) : this.array(items, write);
  }
  nullableArr<T>(
    flexible: boolean,
    items: readonly T[] | null | undefined,
    write: (w: Writer, item: T) => void,
  ): this {
    return flexible ? this.compactNullableArray(items, write) : this.nullableArray(items, write);
  }

  /** An empty tagged-field section (this broker never sends tagged fields). */
  taggedFields(): this {
    return this.uvarint(0);
  }
  tags(flexible: boolean): this {
    return flexible ? this.taggedFields() : this;
  }

  /** UUID from 32 hex digits (dashes allowed); all zeros when absent. */
  uuid(hex: string | null | undefined): this {
    const clean = (hex ?? '').replaceAll('-', '');
    const b = clean.length === 32 ? Buffer.from(clean, 'hex') : Buffer.alloc(16);
    return this.raw(b);
  }

  /** Start over, keeping the allocated buffer. */
  reset(): this {
    this.len = 0;
    return this;
  }

  toBuffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
