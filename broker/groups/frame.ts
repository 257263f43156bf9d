// Framing of the group state log: [u32 length][u32 crc32 of payload][payload].
// A crash can leave a half-written frame at the end of the file; the checksum and length let the
// reader find exactly where the intact prefix ends, so recovery keeps every acknowledged record
// and drops only the torn one that was never acknowledged.
import { crc32 } from 'node:zlib';

const HEADER = 8;
/** A single record larger than this is corruption (a commit of thousands of partitions is < 1 MiB). */
export const MAX_FRAME = 64 * 1024 * 1024;

export function encodeFrame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  payload.copy(out, HEADER);
  return out;
}

export interface DecodedFrames {
  readonly payloads: Buffer[];
  /** Bytes of intact frames from the start; anything after is a torn or corrupt tail. */
  readonly validLength: number;
  /** Why decoding stopped before the end, if it did. */
  readonly stopReason: string | null;
}

export function decodeFrames(buf: Buffer): DecodedFrames {
  const payloads: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < HEADER) {
      return { payloads, validLength: at, stopReason: `torn frame header at byte ${at}` };
    }
    const len = buf.readUInt32BE(at);
    const sum = buf.readUInt32BE(at + 4);
    if (len > MAX_FRAME) {
      return { payloads, validLength: at, stopReason: `frame length ${len} at byte ${at} is implausible` };
    }
    if (buf.length - at - HEADER < len) {
      return { payloads, validLength: at, stopReason: `torn frame at byte ${at} (${len} bytes declared)` };
    }
    const payload = buf.subarray(at + HEADER, at + HEADER + len);
    if (crc32(payload) !== sum) {
      return { payloads, validLength: at, stopReason: `checksum mismatch in frame at byte ${at}` };
    }
    payloads.push(payload);
    at += HEADER + len;
  }
  return { payloads, validLength: at, stopReason: null };
}
