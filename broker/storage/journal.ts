// One write-ahead journal for every partition: what makes an acknowledged append durable.
//
// Why: an fsync round used to fdatasync every segment written since the last round, one per
// partition. At 10,000 riders a second over 12 partitions that was ~1,000 fdatasyncs a second
// (strace), and beside the ingest's SQLite writes on the same disk their tail set the live
// latency: with the broker's directory on tmpfs the live p99 (bench/live.ts all) halved, and
// syncing one file a round instead of twelve took most of that back. Now each append is also
// written here, and a round fdatasyncs this one file. The segments are fdatasync'd in the
// background once the journal file holds journalCheckpointBytes (16 MiB: a checkpoint), after
// which its records are not needed and the file is emptied.
//
// Two files take turns: a checkpoint switches the appends to the other (empty) one, syncs every
// segment written while the first was active, then empties the first. So appends never wait for
// a checkpoint, and every acknowledged byte is at every moment either in a synced segment or in
// a synced journal record.
//
// Reused, not truncated: a file is written with zeros ahead of its records (ALLOCATION_STEP at a
// time) and emptied by writing a header of a new generation, keeping its length (cut back only
// when a slow checkpoint let it grow past a checkpoint and two steps). Emptying used to truncate the
// file to nothing, a synchronous ftruncate of 16 MiB and an fdatasync that had to commit it, on
// the broker's event loop: 8.5-16.4 ms each (four checkpoints of bench/live.ts all, 40 s, with the
// store groups, 2026-12-08), every produce and fetch waiting; now 0.3-1.2 ms, a header and an
// fdatasync of data only. A round's fdatasync writes data only too, as records overwrite bytes
// the file already has instead of growing it (0.09 against 0.13 ms alone here; beside another
// process syncing a growing file, as the ingest's SQLite is, from the same to a third of the p99).
//
// Start-up (replay): the records of both files are written back into their segments at their
// positions (the same bytes again after a kill -9; the lost ones after a power cut), the segments
// synced, and both files emptied, before the logs are opened and their tails verified. A record
// whose segment is gone (retention deleted it) is skipped; a deleted topic's records are dropped
// by a checkpoint before its directory goes (checkpointSync), so a topic created again under the
// same name never gets the old one's bytes.
//
// File: header [magic u32][generation u64], then records [body length u32][crc u32] body =
// [generation u64][path length u16][segment path, relative to the data dir][position u64][batch].
// The record's CRC-32C covers the body up to the batch's own CRC field; the batch's CRC covers
// the rest, and replay checks both (so the batch, already checked once at produce, is not
// checksummed twice on the hot path). Reading stops at the first record that is torn, fails a
// CRC or carries another generation: past that point are only never-acknowledged appends, as
// with a segment's torn tail, the zeros of the preallocation and the records of earlier uses of
// the file. Emptying a file only writes a header with the next generation (one file's
// generations only grow, also across restarts), which is what makes those old records unread; a
// record taken back has its head zeroed, as it may be the last of its generation.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { ATTRIBUTES, BatchError, validateBatch } from './batch.js';
import { crc32c } from './crc32c.js';
import { ignoreClosed } from './flusher.js';
import { fsyncDir } from './json-file.js';
import { datasync, type Segment } from './segment.js';

const MAGIC = 0x6a726e31; // "jrn1"
const HEADER = 12;
const RECORD_HEAD = 8;
/** Zeros written ahead of the records at a time (less when checkpoints are smaller). */
const ALLOCATION_STEP = 1 << 20;
/** Replay reads a file in windows of this size (at least one record's). */
const READ_WINDOW = 1 << 20;

interface JournalFile {
  readonly path: string;
  readonly fd: number;
  generation: bigint;
  /** Where the next record goes (the end of the last one). */
  size: number;
  /** The file's length: zeros from `size` to here, written ahead of the records. */
  allocated: number;
  /** Records written since this file's last fdatasync started. */
  unsynced: boolean;
  /** Segments with records in this file: the ones a checkpoint of it must sync. */
  segments: Set<Segment>;
}

export interface JournalStats {
  syncs: number;
  checkpoints: number;
  segmentsSynced: number;
}

export interface ReplayResult {
  records: number;
  /** Records whose segment file no longer exists (deleted by retention after they were written). */
  skipped: number;
  bytes: number;
}

export class Journal {
  private active: JournalFile;
  private spare: JournalFile;
  /** The segments a running checkpoint is syncing (undefined: none running). */
  private checkpointing: Set<Segment> | undefined;
  /** Set by the first failed write-back, fdatasync or checkpoint: nothing is durable after it. */
  private failed: Error | null = null;
  private readonly paths = new WeakMap<Segment, Buffer>();
  readonly stats: JournalStats = { syncs: 0, checkpoints: 0, segmentsSynced: 0 };

  private constructor(
    private readonly dataDir: string,
    a: JournalFile,
    b: JournalFile,
    private readonly checkpointBytes: number,
    private readonly step: number,
  ) {
    this.active = a;
    this.spare = b;
  }

  /**
   * Replays whatever both files hold into the segments under `dataDir`, syncs those, and returns
   * the journal emptied and ready. Call before any log is opened.
   */
  static open(
    dataDir: string,
    log: Logger,
    /** A checkpoint starts once the active file holds this much (config journalCheckpointBytes). */
    checkpointBytes: number,
  ): { journal: Journal; replayed: ReplayResult } {
    const replayed: ReplayResult = { records: 0, skipped: 0, bytes: 0 };
    const files = ['journal-a', 'journal-b'].map((name) => {
      const path = join(dataDir, name);
      const fresh = !existsSync(path);
      if (!fresh) replayFile(dataDir, path, replayed);
      return { path, fresh };
    });
    if (replayed.records > 0) {
      log.info(replayed, 'journal replayed into the segments');
    }
    const step = allocationStep(checkpointBytes);
    const opened = files.map(({ path }) => {
      const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
      const f: JournalFile = {
        path,
        fd,
        // A file's generations only grow, so no record of an earlier use has the next one (random
        // for a new file: nothing came before).
        generation: headerGeneration(fd) ?? randomBytes(8).readBigUInt64BE(0) >> 2n,
        size: 0,
        allocated: fstatSync(fd).size,
        unsynced: false,
        segments: new Set(),
      };
      reset(f, f.generation + 2n, keptLength(checkpointBytes, step));
      return f;
    });
    const journal = new Journal(dataDir, opened[0]!, opened[1]!, checkpointBytes, step);
    // A journal file created just now must keep its name through a power cut.
    if (files.some((f) => f.fresh)) fsyncDir(dataDir);
    return { journal, replayed };
  }

  /**
   * Writes the record of `data`, about to be written at `position` of `segment`. Synchronous and
   * before the segment write: a failed record leaves nothing behind, and the returned undo takes
   * the record back when the segment write fails.
   */
  append(segment: Segment, position: number, data: Buffer): () => void {
    if (this.failed) throw this.failed;
    if (data.length < ATTRIBUTES) throw new Error(`a record batch of ${data.length} bytes`);
    const f = this.active;
    const path = this.pathOf(segment);
    const head = Buffer.allocUnsafe(RECORD_HEAD + 8 + 2 + path.length + 8);
    const bodyLength = head.length - RECORD_HEAD + data.length;
    head.writeUInt32BE(bodyLength, 0);
    head.writeBigUInt64BE(f.generation, 8);
    head.writeUInt16BE(path.length, 16);
    path.copy(head, 18);
    head.writeBigUInt64BE(BigInt(position), 18 + path.length);
    head.writeUInt32BE(crc32c(data, 0, ATTRIBUTES, crc32c(head, RECORD_HEAD)), 4);
    const at = f.size;
    // Zeros first where the file ends (a failure there leaves no record to take back).
    this.allocate(f, at + head.length + data.length);
    try {
      writeAll(f.fd, [head, data], at);
    } catch (e) {
      this.takeBack(f, at);
      throw e;
    }
    f.size = at + head.length + data.length;
    f.unsynced = true;
    f.segments.add(segment);
    return () => this.takeBack(f, at);
  }

  /** Makes every record written so far durable (one fdatasync per file holding unsynced ones). */
  async sync(): Promise<void> {
    if (this.failed) throw this.failed;
    const files = [this.active, this.spare].filter((f) => f.unsynced);
    for (const f of files) f.unsynced = false;
    this.stats.syncs += files.length;
    try {
      await Promise.all(files.map((f) => datasync(f.fd)));
    } catch (e) {
      this.fail(e as Error);
      throw e;
    }
    this.maybeCheckpoint();
  }

  /**
   * Syncs every segment with records in either file and empties both, now: before a topic's
   * directory is deleted, so that no record of it can be written into a topic created again
   * under its name. Blocks the event loop for those fdatasyncs (deleting a topic is rare).
   */
  checkpointSync(): void {
    if (this.failed) throw this.failed;
    const segments = new Set([...this.active.segments, ...this.spare.segments]);
    for (const s of this.checkpointing ?? []) segments.add(s);
    try {
      for (const s of segments) s.flushSync();
      for (const f of [this.active, this.spare]) this.empty(f);
    } catch (e) {
      this.fail(e as Error);
      throw e;
    }
    this.stats.checkpoints++;
    this.stats.segmentsSynced += segments.size;
  }

  /** After a clean close (every segment synced and closed): both files emptied, then closed. */
  closeClean(): void {
    if (!this.failed) {
      for (const f of [this.active, this.spare]) this.empty(f);
    }
    this.close();
  }

  close(): void {
    for (const f of [this.active, this.spare]) {
      try {
        closeSync(f.fd);
      } catch {
        // already closed
      }
    }
  }

  private maybeCheckpoint(): void {
    if (this.checkpointing || this.failed || this.active.size < this.checkpointBytes) return;
    const old = this.active;
    this.active = this.spare;
    this.spare = old;
    const segments = old.segments;
    old.segments = new Set();
    this.checkpointing = segments;
    void this.checkpoint(old, segments);
  }

  private async checkpoint(old: JournalFile, segments: Set<Segment>): Promise<void> {
    try {
      await Promise.all([...segments].map((s) => s.flushAsync().catch(ignoreClosed(s))));
      if (this.failed) return;
      // A round may still be syncing this file: harmless, its records' bytes are in synced segments.
      this.empty(old);
      this.stats.checkpoints++;
      this.stats.segmentsSynced += segments.size;
    } catch (e) {
      this.fail(e as Error);
    } finally {
      this.checkpointing = undefined;
    }
  }

  private pathOf(segment: Segment): Buffer {
    let p = this.paths.get(segment);
    if (!p) {
      p = Buffer.from(relative(this.dataDir, segment.path));
      this.paths.set(segment, p);
    }
    return p;
  }

  /**
   * Makes the file at least `end` bytes long, with zeros up to a step past it: an fsync round then
   * writes data only (no new size to commit), but for the one after each step.
   */
  private allocate(f: JournalFile, end: number): void {
    if (end <= f.allocated) return;
    const target = end + this.step;
    const zeros = Buffer.alloc(Math.min(target - f.allocated, this.step));
    while (f.allocated < target) {
      const n = Math.min(zeros.length, target - f.allocated);
      writeAll(f.fd, [zeros.subarray(0, n)], f.allocated);
      f.allocated += n;
    }
  }

  /** Empties a file for its next use; one that grew past a checkpoint's worth is cut back. */
  private empty(f: JournalFile): void {
    reset(f, f.generation + 2n, keptLength(this.checkpointBytes, this.step));
    f.unsynced = false;
    f.segments = new Set();
  }

  private takeBack(f: JournalFile, at: number): void {
    try {
      // Zero the record's head: left whole, it would be replayed if no record came after it.
      writeAll(f.fd, [Buffer.alloc(RECORD_HEAD)], at);
      f.size = at;
    } catch (e) {
      // The record may stay: a later record would then follow a torn one and be lost at replay.
      this.fail(e as Error);
    }
  }

  private fail(e: Error): void {
    this.failed ??= e;
  }
}

/** The size of the zeroed runs written ahead of the records. */
function allocationStep(checkpointBytes: number): number {
  return Math.min(ALLOCATION_STEP, checkpointBytes);
}

/**
 * The longest a file stays when emptied: a checkpoint's worth and the step its last record
 * allocated, plus a step, so that the usual file is never cut (a truncate is what emptying avoids).
 */
function keptLength(checkpointBytes: number, step: number): number {
  return checkpointBytes + 2 * step;
}

/**
 * Empties a file down to a header of `generation`, durably: the records after it (another
 * generation) are no longer read. The file keeps its zeros up to `keep` bytes; beyond that (a
 * slow checkpoint let it grow) it is cut back.
 */
function reset(f: JournalFile, generation: bigint, keep: number): void {
  if (f.allocated > keep) {
    ftruncateSync(f.fd, keep);
    f.allocated = keep;
  }
  const h = Buffer.alloc(HEADER);
  h.writeUInt32BE(MAGIC, 0);
  h.writeBigUInt64BE(generation, 4);
  writeAll(f.fd, [h], 0);
  fdatasyncSync(f.fd);
  f.generation = generation;
  f.size = HEADER;
  f.allocated = Math.max(f.allocated, HEADER);
}

/** The generation in a file's header (undefined: a new or unreadable file). */
function headerGeneration(fd: number): bigint | undefined {
  const h = Buffer.alloc(HEADER);
  if (readSync(fd, h, 0, HEADER, 0) < HEADER || h.readUInt32BE(0) !== MAGIC) return undefined;
  return h.readBigUInt64BE(4);
}

/** A record as read back: the segment (relative to the data dir), the position, the batch. */
export interface JournalRecord {
  path: string;
  position: number;
  data: Buffer;
  /** Where the record ends in the journal file. */
  end: number;
}

/**
 * The records of one journal file, in order, up to the first that is torn, fails a CRC or
 * carries another generation than the file's header. Reads a window at a time: most of a file is
 * the zeros written ahead of its records.
 */
export function* readJournal(path: string): Generator<JournalRecord> {
  const fd = openSync(path, 'r');
  try {
    const file = new FileWindow(fd);
    const header = file.bytes(0, HEADER);
    if (!header || header.readUInt32BE(0) !== MAGIC) return;
    const generation = header.readBigUInt64BE(4);
    for (let at = HEADER; ; ) {
      const head = file.bytes(at, RECORD_HEAD);
      if (!head) return;
      const bodyLength = head.readUInt32BE(0);
      if (bodyLength < 18) return; // zeros: the end of the records
      const record = file.bytes(at, RECORD_HEAD + bodyLength);
      if (!record) return; // torn
      const body = record.subarray(RECORD_HEAD);
      const pathLength = body.readUInt16BE(8);
      const dataAt = 18 + pathLength;
      if (body.length < dataAt + ATTRIBUTES) return;
      if (crc32c(body, 0, dataAt + ATTRIBUTES) !== record.readUInt32BE(4)) return;
      if (body.readBigUInt64BE(0) !== generation) return; // an earlier use of this file
      const data = body.subarray(dataAt);
      if (!wholeBatch(data)) return;
      at += record.length;
      yield {
        path: body.subarray(10, dataAt - 8).toString(),
        position: Number(body.readBigUInt64BE(dataAt - 8)),
        data,
        end: at,
      };
    }
  } finally {
    closeSync(fd);
  }
}

/** A file's bytes, read a window at a time; what it returned stays valid (each window is new). */
class FileWindow {
  private buf = Buffer.alloc(0);
  private base = 0;
  private readonly size: number;

  constructor(private readonly fd: number) {
    this.size = fstatSync(fd).size;
  }

  /** `length` bytes from `at`, or undefined where the file ends before them. */
  bytes(at: number, length: number): Buffer | undefined {
    if (at + length > this.size) return undefined;
    if (at < this.base || at + length > this.base + this.buf.length) {
      this.buf = Buffer.allocUnsafe(Math.min(Math.max(length, READ_WINDOW), this.size - at));
      this.base = at;
      for (let done = 0; done < this.buf.length; ) {
        const n = readSync(this.fd, this.buf, done, this.buf.length - done, at + done);
        if (n === 0) throw new Error(`a journal file ended ${this.buf.length - done} bytes early`);
        done += n;
      }
    }
    return this.buf.subarray(at - this.base, at - this.base + length);
  }
}

function replayFile(dataDir: string, path: string, out: ReplayResult): void {
  const touched = new Map<string, number>();
  try {
    for (const r of readJournal(path)) {
      out.records++;
      const segment = join(dataDir, r.path);
      if (!existsSync(segment)) {
        out.skipped++;
        continue;
      }
      let fd = touched.get(segment);
      if (fd === undefined) {
        fd = openSync(segment, 'r+');
        touched.set(segment, fd);
      }
      writeAll(fd, [r.data], r.position);
      out.bytes += r.data.length;
    }
    for (const fd of touched.values()) fdatasyncSync(fd);
  } finally {
    for (const fd of touched.values()) closeSync(fd);
  }
}

function writeAll(fd: number, parts: Buffer[], position: number): void {
  let total = 0;
  for (const p of parts) total += p.length;
  let done = writevSync(fd, parts, position);
  // Short writes are rare (a signal, a nearly full disk); finish them piece by piece.
  while (done < total) {
    let skip = done;
    for (const p of parts) {
      if (skip >= p.length) {
        skip -= p.length;
        continue;
      }
      done += writeSync(fd, p, skip, p.length - skip, position + done);
      break;
    }
  }
}

/** One record batch exactly, its CRC right (not torn). */
function wholeBatch(data: Buffer): boolean {
  try {
    return validateBatch(data, 0, data.length).size === data.length;
  } catch (e) {
    if (e instanceof BatchError) return false;
    throw e;
  }
}
