// One segment of a partition log: <base>.log holds record batches back to back exactly as
// produced (with baseOffset rewritten); <base>.index holds a sparse offset index
// (relative offset int32, file position int32) every indexIntervalBytes; <base>.timeindex holds
// (max timestamp so far int64, relative offset int32, position int32) at the same points.
// Indexes are small and kept in memory; log contents never are.
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { BatchInfo } from './batch.js';
import { readFully, type ScanResult, scanBatches } from './scan.js';

const OFFSET_ENTRY = 8;
const TIME_ENTRY = 16;

export function segmentName(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0');
}

export interface AppendInfo {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

export class Segment {
  size = 0;
  /** Offset after the last batch (== baseOffset when empty). */
  nextOffset: number;
  /** Largest batch max timestamp in the segment; -1 when none. */
  maxTimestamp = -1;
  /** Written since the last fsync. */
  dirty = false;

  private readonly fd: number;
  private readonly indexFd: number;
  private readonly timeFd: number;
  private idxOffsets: number[] = [];
  private idxPositions: number[] = [];
  private timeTs: number[] = [];
  private timeOffsets: number[] = [];
  private timePositions: number[] = [];
  private bytesSinceIndex = 0;
  private closed = false;
  /** Lookups start at an index entry, so the batch sought is usually within one interval. */
  private readonly lookupChunk: number;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly indexInterval: number,
  ) {
    this.nextOffset = baseOffset;
    this.lookupChunk = Math.max(16 * 1024, indexInterval * 2);
    const name = join(dir, segmentName(baseOffset));
    this.fd = openSync(`${name}.log`, 'a+');
    this.indexFd = openSync(`${name}.index`, 'a+');
    this.timeFd = openSync(`${name}.timeindex`, 'a+');
    this.size = fstatSync(this.fd).size;
  }

  static create(dir: string, baseOffset: number, indexInterval: number): Segment {
    const s = new Segment(dir, baseOffset, indexInterval);
    s.truncateIndexes();
    return s;
  }

  /**
   * Open an existing segment. `recover` (the active segment after an unclean stop): verify every
   * batch and truncate the torn tail, then rebuild the indexes. Otherwise load the index files,
   * rebuilding them if they look wrong.
   */
  static open(
    dir: string,
    baseOffset: number,
    indexInterval: number,
    recover: boolean,
  ): { segment: Segment; truncated?: { at: number; dropped: number; reason: string } } {
    const s = new Segment(dir, baseOffset, indexInterval);
    if (recover) {
      const r = s.rebuild(true);
      if (r.validEnd < s.size) {
        const dropped = s.size - r.validEnd;
        ftruncateSync(s.fd, r.validEnd);
        fdatasyncSync(s.fd);
        s.size = r.validEnd;
        return { segment: s, truncated: { at: r.validEnd, dropped, reason: r.stopReason ?? 'unknown' } };
      }
    } else if (!s.loadIndexes()) {
      s.rebuild(false);
    }
    return { segment: s };
  }

  /** Append batch bytes (baseOffset already assigned). Synchronous: the page cache has it on return. */
  append(data: Buffer, info: AppendInfo): void {
    const position = this.size;
    let done = 0;
    try {
      while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, position + done);
    } catch (e) {
      // Disk full, file too large, I/O error: cut off any partial batch so the file still ends
      // where this.size says, then let the caller refuse the request.
      if (done > 0) {
        try {
          ftruncateSync(this.fd, position);
        } catch {
          // recovery on the next start verifies and cuts the tail anyway
        }
      }
      throw e;
    }
    this.size += data.length;
    this.nextOffset = info.lastOffset + 1;
    this.dirty = true;
    this.noteBatch(info.baseOffset, position, data.length, info.maxTimestamp, true);
  }

  private noteBatch(baseOffset: number, position: number, size: number, maxTs: number, write: boolean): void {
    if (maxTs > this.maxTimestamp) this.maxTimestamp = maxTs;
    // The first batch is always indexed so a lookup never has to start before it.
    if (this.idxOffsets.length === 0 || this.bytesSinceIndex >= this.indexInterval) {
      this.idxOffsets.push(baseOffset);
      this.idxPositions.push(position);
      this.timeTs.push(this.maxTimestamp);
      this.timeOffsets.push(baseOffset);
      this.timePositions.push(position);
      this.bytesSinceIndex = 0;
      if (write) {
        try {
          this.writeIndexEntry(this.idxOffsets.length - 1);
        } catch {
          // The batch is already in the log and the in-memory index has the entry. A missing
          // entry on disk only makes the next start scan a little more (entries are
          // self-contained pairs, so a gap never misleads a lookup).
        }
      }
    }
    this.bytesSinceIndex += size;
  }

  private writeIndexEntry(i: number): void {
    const e = Buffer.allocUnsafe(OFFSET_ENTRY);
    e.writeInt32BE(this.idxOffsets[i]! - this.baseOffset, 0);
    e.writeInt32BE(this.idxPositions[i]!, 4);
    writeSync(this.indexFd, e, 0, OFFSET_ENTRY, i * OFFSET_ENTRY);
    const t = Buffer.allocUnsafe(TIME_ENTRY);
    t.writeBigInt64BE(BigInt(this.timeTs[i]!), 0);
    t.writeInt32BE(this.timeOffsets[i]! - this.baseOffset, 8);
    t.writeInt32BE(this.timePositions[i]!, 12);
    writeSync(this.timeFd, t, 0, TIME_ENTRY, i * TIME_ENTRY);
  }

  private truncateIndexes(): void {
    ftruncateSync(this.indexFd, 0);
    ftruncateSync(this.timeFd, 0);
  }

  private resetIndexes(): void {
    this.idxOffsets = [];
    this.idxPositions = [];
    this.timeTs = [];
    this.timeOffsets = [];
    this.timePositions = [];
    this.bytesSinceIndex = 0;
    this.maxTimestamp = -1;
    this.nextOffset = this.baseOffset;
  }

  /** Scan the log file, recomputing indexes, nextOffset and maxTimestamp, and rewrite index files. */
  private rebuild(verify: boolean): ScanResult {
    this.resetIndexes();
    const r = scanBatches(
      this.fd,
      0,
      this.size,
      verify,
      (b) => {
        this.noteBatch(b.baseOffset, b.position, b.size, b.maxTimestamp, false);
        this.nextOffset = b.baseOffset + b.lastOffsetDelta + 1;
      },
      verify ? this.baseOffset : undefined,
    );
    this.truncateIndexes();
    for (let i = 0; i < this.idxOffsets.length; i++) this.writeIndexEntry(i);
    return r;
  }

  /** Load index files; false if they are missing or inconsistent with the log. */
  private loadIndexes(): boolean {
    const n = fstatSync(this.indexFd).size;
    const tn = fstatSync(this.timeFd).size;
    if (n % OFFSET_ENTRY !== 0 || tn !== (n / OFFSET_ENTRY) * TIME_ENTRY) return false;
    if (n === 0) return this.size === 0;
    const idx = Buffer.allocUnsafe(n);
    const tix = Buffer.allocUnsafe(tn);
    if (readFully(this.indexFd, idx, n, 0) !== n || readFully(this.timeFd, tix, tn, 0) !== tn) return false;
    this.resetIndexes();
    let prevPos = -1;
    for (let i = 0; i < n / OFFSET_ENTRY; i++) {
      const pos = idx.readInt32BE(i * OFFSET_ENTRY + 4);
      if (pos <= prevPos || pos >= this.size) return false;
      prevPos = pos;
      this.idxOffsets.push(this.baseOffset + idx.readInt32BE(i * OFFSET_ENTRY));
      this.idxPositions.push(pos);
      this.timeTs.push(Number(tix.readBigInt64BE(i * TIME_ENTRY)));
      this.timeOffsets.push(this.baseOffset + tix.readInt32BE(i * TIME_ENTRY + 8));
      this.timePositions.push(tix.readInt32BE(i * TIME_ENTRY + 12));
    }
    // The tail after the last index entry is short (< one interval): scan it for nextOffset.
    const lastPos = this.idxPositions[this.idxPositions.length - 1]!;
    this.maxTimestamp = this.timeTs[this.timeTs.length - 1]!;
    let ok = true;
    let end = lastPos;
    const r = scanBatches(this.fd, lastPos, this.size, false, (b) => {
      if (b.position + b.size > this.size) ok = false;
      end = b.position + b.size;
      this.nextOffset = b.baseOffset + b.lastOffsetDelta + 1;
      if (b.maxTimestamp > this.maxTimestamp) this.maxTimestamp = b.maxTimestamp;
      this.bytesSinceIndex += b.size; // counted from the last indexed batch, as noteBatch does
    });
    return ok && r.validEnd === this.size && end === this.size;
  }

  /** Position of the first batch whose last offset is >= `offset`, or -1 if none in this segment. */
  positionOf(offset: number): { position: number; baseOffset: number } | null {
    const i = floorIndex(this.idxOffsets, offset);
    const b = this.firstBatch(
      i < 0 ? 0 : this.idxPositions[i]!,
      (b) => b.baseOffset + b.lastOffsetDelta >= offset,
    );
    return b && { position: b.position, baseOffset: b.baseOffset };
  }

  /** First batch with max timestamp >= ts: its base offset and timestamp, or null if none here. */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } | null {
    if (this.maxTimestamp < ts) return null;
    // Entries before the last one whose running max is < ts cannot hold a match.
    let i = floorIndex(this.timeTs, ts - 1);
    if (i < 0) i = 0;
    const b = this.firstBatch(this.timePositions[i] ?? 0, (b) => b.maxTimestamp >= ts);
    return b && { offset: b.baseOffset, timestamp: b.maxTimestamp };
  }

  /** Read up to `len` bytes at `position` (bounded by the segment's size). */
  read(position: number, len: number): Buffer {
    const n = Math.max(0, Math.min(len, this.size - position));
    const buf = Buffer.allocUnsafe(n);
    const got = readFully(this.fd, buf, n, position);
    return buf.subarray(0, got);
  }

  /** Read one batch header's worth to learn a batch's size, e.g. when it exceeds the fetch budget. */
  batchAt(position: number): BatchInfo | null {
    return this.firstBatch(position, () => true, 4096);
  }

  /** The first batch header from `position` on for which `match` holds (no CRC check), or null. */
  private firstBatch(
    position: number,
    match: (b: BatchInfo) => boolean,
    chunk = this.lookupChunk,
  ): BatchInfo | null {
    let found: BatchInfo | null = null;
    scanBatches(
      this.fd,
      position,
      this.size,
      false,
      (b) => {
        if (!match(b)) return true;
        found = b;
        return false;
      },
      undefined,
      chunk,
    );
    return found;
  }

  /** Visit batch headers from `position` on (no CRC check); return false from `fn` to stop. */
  scan(position: number, fn: (b: BatchInfo) => unknown): void {
    scanBatches(this.fd, position, this.size, false, fn);
  }

  get path(): string {
    return join(this.dir, `${segmentName(this.baseOffset)}.log`);
  }

  flushAsync(): Promise<void> {
    this.dirty = false;
    return datasync(this.fd);
  }

  flushSync(): void {
    if (this.closed) return;
    fdatasyncSync(this.fd);
    fdatasyncSync(this.indexFd);
    fdatasyncSync(this.timeFd);
    this.dirty = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    closeSync(this.indexFd);
    closeSync(this.timeFd);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  remove(): void {
    this.close();
    const name = join(this.dir, segmentName(this.baseOffset));
    for (const ext of ['.log', '.index', '.timeindex']) rmSync(`${name}${ext}`, { force: true });
  }
}

/** Index of the last element <= x in an ascending array, or -1. */
export function floorIndex(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! <= x) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** fdatasync on the thread pool, as a promise (a segment's and the journal's background syncs). */
export function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
