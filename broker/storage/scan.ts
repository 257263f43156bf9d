// Walk the record batches of a segment file in order, reading it in large chunks, so recovery
// and index rebuilds cost one read per megabyte rather than one per batch.
import { readSync } from 'node:fs';
import { BatchError, type BatchInfo, batchSizeAt, HEADER_SIZE, readHeader, validateBatch } from './batch.js';

const CHUNK = 1024 * 1024;

export interface ScanResult {
  /** File position after the last good batch: everything from here on is torn or garbage. */
  validEnd: number;
  /** Why the scan stopped before `end`, if it did. */
  stopReason?: string;
}

/**
 * Calls `onBatch` for each batch from `start` to `end`. With `verify`, checks each batch fully
 * (CRC, magic, lengths) and that offsets continue from `expectOffset`; stops at the first bad one.
 * `onBatch` may return false to stop early.
 */
export function scanBatches(
  fd: number,
  start: number,
  end: number,
  verify: boolean,
  onBatch: (b: BatchInfo) => unknown,
  expectOffset?: number,
  chunk = CHUNK,
): ScanResult {
  let buf = Buffer.allocUnsafe(Math.min(chunk, Math.max(end - start, 12)));
  let pos = start;
  let next = expectOffset;
  while (pos < end) {
    const want = Math.min(buf.length, end - pos);
    const got = readFully(fd, buf, want, pos);
    if (got < LOG_MIN) return { validEnd: pos, stopReason: `${end - pos} trailing bytes, no batch header` };
    let p = 0;
    while (p < got) {
      const size = batchSizeAt(buf, p, got);
      if (size < 0 || p + Math.max(size, HEADER_SIZE) > got) {
        if (size >= HEADER_SIZE && p === 0 && size > buf.length) {
          if (pos + size > end)
            return { validEnd: pos, stopReason: `batch of ${size} bytes runs past the end` };
          buf = Buffer.allocUnsafe(size); // one batch bigger than the chunk: read it whole
        }
        break; // partial batch at the chunk's end: re-read from it
      }
      let info: BatchInfo;
      if (verify) {
        try {
          info = validateBatch(buf, p, got);
        } catch (e) {
          if (e instanceof BatchError) return { validEnd: pos + p, stopReason: e.message };
          throw e;
        }
        if (next !== undefined && info.baseOffset !== next) {
          return { validEnd: pos + p, stopReason: `batch offset ${info.baseOffset}, expected ${next}` };
        }
        next = info.baseOffset + info.lastOffsetDelta + 1;
      } else {
        if (size < HEADER_SIZE) return { validEnd: pos + p, stopReason: `batch length ${size} below header` };
        info = readHeader(buf, p);
      }
      info.position = pos + p;
      if (onBatch(info) === false) return { validEnd: pos + p + size };
      p += size;
    }
    if (p === 0 && got === end - pos) {
      return { validEnd: pos, stopReason: 'torn batch at end of file' };
    }
    pos += p;
  }
  return { validEnd: pos };
}

const LOG_MIN = 12;

function readFully(fd: number, buf: Buffer, len: number, position: number): number {
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, done, len - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export { readFully };
