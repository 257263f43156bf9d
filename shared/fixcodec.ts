// Binary wire encoding of the fix record (the Kafka message value; the key is the device id).
//
// Cellular data is paid per byte on every device of the fleet, so the encoding is compact:
// fixed-point integers, varints for counters, and a presence bitmap for optional fields.
// The layout is documented in docs/fix-record.md; the size of a typical fix is ~44 bytes.
//
//   u8      version            (CURRENT_VERSION = 2; version 1 is still accepted)
//   u8      flags              presence bits, see FLAG_*; unknown bits are rejected
//   u8      mode               2 = 2D, 3 = 3D
//   uvarint seq                1 .. 2^53-1
//   uvarint time               GNSS UTC, ms since 1970
//   i32le   lat                1e-7 degrees
//   i32le   lon                1e-7 degrees
//   u8+utf8 deviceId           1..64 bytes
//   then, each only when its flag is set, in this order:
//   zvarint alt (cm) | uvarint speed (cm/s) | u16le course (0.01 deg) | uvarint hdop (0.01)
//   | u8 sats | u8 quality | uvarint droppedThrough (version 2 only)

import { DeviceIds, hashBytes } from './device-ids.js';
import type { Fix, FixMode } from './fix.js';
import { validateDeviceId, validateFix, validateFixFields, validateSeq } from './fixvalidate.js';
import { MAX_VARINT_BYTES, uvarintSize, writeUvarint, writeZigzag } from './varint.js';

export const CURRENT_VERSION = 2;
export const MAX_DEVICE_ID_BYTES = 64;

const FLAG_ALT = 1 << 0;
const FLAG_SPEED = 1 << 1;
const FLAG_COURSE = 1 << 2;
const FLAG_HDOP = 1 << 3;
const FLAG_SATS = 1 << 4;
const FLAG_QUALITY = 1 << 5;
const FLAG_DROPPED = 1 << 6; // since version 2
const KNOWN_FLAGS: Record<number, number> = { 1: 0x3f, 2: 0x7f };

/** Which device and seq a record is, when it says so readably (see FixDecodeError.identity). */
export interface FixIdentity {
  deviceId: string;
  seq: number;
}

/** Why a byte string is not a fix record. `reason` is meant for logs and the dead-letter header. */
export class FixDecodeError extends Error {
  /**
   * @param identity set when the record was read whole and only a value failed validation (a
   *   latitude of 95, a bad mode) while its device id and seq are valid: the cloud then knows which
   *   seq it refused, so that seq shows as rejected rather than as a gap that never fills.
   *   Absent for a truncated, unknown-version or otherwise unreadable record, whose bytes cannot
   *   be trusted to name a device.
   */
  constructor(
    readonly reason: string,
    readonly identity?: FixIdentity,
  ) {
    super(`invalid fix record: ${reason}`);
    this.name = 'FixDecodeError';
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Encode a fix. Throws FixDecodeError (the same reasons the decoder gives) for an invalid fix. */
export function encodeFix(fix: Fix, version: number = CURRENT_VERSION): Buffer {
  const problem = validateFix(fix);
  if (problem) throw new FixDecodeError(problem);
  if (version !== 1 && version !== 2) throw new FixDecodeError(`cannot encode version ${version}`);
  const id = utf8.encode(fix.deviceId);
  if (id.length > MAX_DEVICE_ID_BYTES) {
    throw new FixDecodeError(`deviceId is ${id.length} bytes, at most ${MAX_DEVICE_ID_BYTES}`);
  }
  const withDropped = version >= 2 && fix.droppedThrough !== undefined;
  let flags = 0;
  if (fix.alt !== undefined) flags |= FLAG_ALT;
  if (fix.speed !== undefined) flags |= FLAG_SPEED;
  if (fix.course !== undefined) flags |= FLAG_COURSE;
  if (fix.hdop !== undefined) flags |= FLAG_HDOP;
  if (fix.sats !== undefined) flags |= FLAG_SATS;
  if (fix.quality !== undefined) flags |= FLAG_QUALITY;
  if (withDropped) flags |= FLAG_DROPPED;

  const buf = Buffer.allocUnsafe(3 + 10 + 10 + 8 + 1 + id.length + 10 + 10 + 2 + 10 + 2 + 10);
  let o = 0;
  buf[o++] = version;
  buf[o++] = flags;
  buf[o++] = fix.mode;
  o = writeUvarint(buf, o, fix.seq);
  o = writeUvarint(buf, o, fix.time);
  o = buf.writeInt32LE(Math.round(fix.lat * 1e7), o);
  o = buf.writeInt32LE(Math.round(fix.lon * 1e7), o);
  buf[o++] = id.length;
  buf.set(id, o);
  o += id.length;
  if (fix.alt !== undefined) o = writeZigzag(buf, o, Math.round(fix.alt * 100));
  if (fix.speed !== undefined) o = writeUvarint(buf, o, Math.round(fix.speed * 100));
  // 359.996 degrees rounds to 36000 hundredths, which is north again.
  if (fix.course !== undefined) o = buf.writeUInt16LE(Math.round(fix.course * 100) % 36000, o);
  if (fix.hdop !== undefined) o = writeUvarint(buf, o, Math.round(fix.hdop * 100));
  if (fix.sats !== undefined) buf[o++] = fix.sats;
  if (fix.quality !== undefined) buf[o++] = fix.quality;
  if (withDropped) o = writeUvarint(buf, o, fix.droppedThrough!);
  return buf.subarray(0, o);
}

/** Decode and validate a fix record. Throws FixDecodeError with the reason on any malformed input. */
export function decodeFix(input: Uint8Array): Fix {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const r = new Cursor(buf);
  const version = r.u8('version');
  if (version === 0) throw new FixDecodeError('version 0 does not exist');
  if (version > CURRENT_VERSION) {
    throw new FixDecodeError(
      `version ${version} is newer than this decoder understands (${CURRENT_VERSION})`,
    );
  }
  const flags = r.u8('flags');
  const unknown = flags & ~(KNOWN_FLAGS[version] ?? 0);
  if (unknown) throw new FixDecodeError(`unknown flag bits 0x${unknown.toString(16)} for version ${version}`);
  const mode = r.u8('mode') as FixMode;
  const seq = r.uvarint('seq');
  const time = r.uvarint('time');
  const lat = r.i32('lat') / 1e7;
  const lon = r.i32('lon') / 1e7;
  const idLen = r.u8('deviceId length');
  const idStart = r.take(idLen, 'deviceId');
  const idEnd = idStart + idLen;
  // An id seen valid before is taken as it is (device-ids.ts); a new one is decoded and checked
  // here, and its problem, if any, reported below where validateFix would report it (first).
  const idHash = hashBytes(buf, idStart, idEnd);
  let deviceId = knownIds.get(idHash, buf, idStart, idEnd);
  let idProblem: string | null = null;
  if (deviceId === undefined) {
    deviceId = utf8At(buf, idStart, idEnd, 'deviceId');
    idProblem = validateDeviceId(deviceId);
    if (idProblem === null) knownIds.set(idHash, buf, idStart, idEnd, deviceId);
  }
  // A fix with every optional field but droppedThrough (the usual one) is made whole in one
  // literal: adding the fields one by one moves each object through six shapes and gives it a
  // second allocation for the fields past its first six. Same fields, same order either way.
  const fix: Fix =
    (flags & ALL_OPTIONAL) === ALL_OPTIONAL
      ? {
          deviceId,
          seq,
          time,
          lat,
          lon,
          mode,
          alt: r.zigzag('alt') / 100,
          speed: r.uvarint('speed') / 100,
          course: r.u16('course') / 100,
          hdop: r.uvarint('hdop') / 100,
          sats: r.u8('sats'),
          quality: r.u8('quality'),
        }
      : readOptional({ deviceId, seq, time, lat, lon, mode }, flags, r);
  if (flags & FLAG_DROPPED) fix.droppedThrough = r.uvarint('droppedThrough');
  if (r.remaining() > 0) throw new FixDecodeError(`${r.remaining()} trailing bytes after the record`);
  // validateFix(fix), from its two parts.
  const problem = idProblem ?? validateFixFields(fix);
  if (problem) {
    // The record names its device and seq when both are valid: the id passed above, the seq here.
    const named = idProblem === null && validateSeq(seq) === null;
    throw new FixDecodeError(problem, named ? { deviceId, seq } : undefined);
  }
  return fix;
}

const ALL_OPTIONAL = FLAG_ALT | FLAG_SPEED | FLAG_COURSE | FLAG_HDOP | FLAG_SATS | FLAG_QUALITY;
const knownIds = new DeviceIds();

/** The optional fields before droppedThrough that `flags` says are present, in record order. */
function readOptional(fix: Fix, flags: number, r: Cursor): Fix {
  if (flags & FLAG_ALT) fix.alt = r.zigzag('alt') / 100;
  if (flags & FLAG_SPEED) fix.speed = r.uvarint('speed') / 100;
  if (flags & FLAG_COURSE) fix.course = r.u16('course') / 100;
  if (flags & FLAG_HDOP) fix.hdop = r.uvarint('hdop') / 100;
  if (flags & FLAG_SATS) fix.sats = r.u8('sats');
  if (flags & FLAG_QUALITY) fix.quality = r.u8('quality');
  return fix;
}

/**
 * buf[start, end) as a strictly valid UTF-8 string. Device ids are nearly always ASCII, which is
 * valid UTF-8 and reads byte for byte as latin1: that path skips the strict decoder and the
 * subarray it needs.
 */
function utf8At(buf: Buffer, start: number, end: number, field: string): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return buf.toString('latin1', start, end);
  try {
    return utf8Strict.decode(buf.subarray(start, end));
  } catch {
    throw new FixDecodeError(`${field} is not valid UTF-8`);
  }
}

/** Size in bytes of the encoded fix, without encoding it (for budgeting cellular bytes). */
export function encodedSize(fix: Fix): number {
  let n = 3 + uvarintSize(fix.seq) + uvarintSize(fix.time) + 8 + 1 + utf8.encode(fix.deviceId).length;
  if (fix.alt !== undefined) n += uvarintSize(Math.abs(Math.round(fix.alt * 100)) * 2);
  if (fix.speed !== undefined) n += uvarintSize(Math.round(fix.speed * 100));
  if (fix.course !== undefined) n += 2;
  if (fix.hdop !== undefined) n += uvarintSize(Math.round(fix.hdop * 100));
  if (fix.sats !== undefined) n += 1;
  if (fix.quality !== undefined) n += 1;
  if (fix.droppedThrough !== undefined) n += uvarintSize(fix.droppedThrough);
  return n;
}

/** Bounds-checked reader: every read names the field it was reading when the bytes ran out. */
class Cursor {
  private o = 0;
  constructor(private readonly buf: Buffer) {}
  remaining(): number {
    return this.buf.length - this.o;
  }
  private need(n: number, field: string): void {
    if (this.o + n > this.buf.length) {
      throw new FixDecodeError(`truncated: ${this.buf.length} bytes end inside ${field}`);
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.o++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16LE(this.o);
    this.o += 2;
    return v;
  }
  i32(field: string): number {
    this.need(4, field);
    const v = this.buf.readInt32LE(this.o);
    this.o += 4;
    return v;
  }
  /** Skips n bytes of `field`; returns where they start. */
  take(n: number, field: string): number {
    this.need(n, field);
    const start = this.o;
    this.o += n;
    return start;
  }
  uvarint(field: string): number {
    return this.varint(field, false);
  }
  zigzag(field: string): number {
    const u = this.varint(field, true);
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  /** LEB128 as shared/varint.ts writes it, read in place (no result object per field). */
  private varint(field: string, zigzag: boolean): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.buf[this.o + i];
      if (b === undefined)
        throw new FixDecodeError(`truncated: ${this.buf.length} bytes end inside ${field}`);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (value > Number.MAX_SAFE_INTEGER) break;
        this.o += i + 1;
        return value;
      }
      scale *= 0x80;
    }
    throw new FixDecodeError(`${field} is larger than 2^${zigzag ? 52 : 53}`);
  }
}
