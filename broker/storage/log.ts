// The log of one partition: an ordered list of segments, the last one active. Appends go to the
// active segment (rolling to a new one at segment.bytes); reads find the segment by base offset
// and the position through its sparse index. Retention deletes whole old segments.
//
// Reads stop at the high watermark: the end of what is fsync'ed (flusher.ts), not the end of
// what is written. A consumer that saw a batch a power cut then took back could commit an offset
// past the log's new end and skip the batches written there next (the producer's retry among
// them). Everything below the high watermark survives a power cut, so that cannot happen.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { TopicDefaults } from '../config.js';
import {
  type ProducerSnapshot,
  ProducerStateTable,
  type SequenceCheck,
} from '../produce-state/producer-state.js';
import { ErrorCode } from '../protocol/errors.js';
import { BASE_OFFSET, BatchError, type BatchInfo, batchSizeAt, validateBatch } from './batch.js';
import type { Durable, GroupFlusher, SyncPoint } from './flusher.js';
import { fsyncDir, JsonFile } from './json-file.js';
import { Segment } from './segment.js';

/** Producer ids idle this long are forgotten (Kafka's default is 7 days too). */
const PRODUCER_EXPIRY_MS = 7 * 24 * 3600 * 1000;

export type AppendResult =
  | { errorCode: 0; baseOffset: number; duplicate: boolean; logAppendTime: number }
  | { errorCode: number; message: string };

export type ReadResult =
  | { errorCode: 0; records: Buffer | null }
  | { errorCode: typeof ErrorCode.OFFSET_OUT_OF_RANGE; message: string };

export class PartitionLog implements Durable {
  private segments: Segment[] = [];
  /** High watermark: offsets below it are on disk, and it sits at `hwPosition` in the active segment. */
  private hw = 0;
  private hwPosition = 0;
  private producers = new ProducerStateTable();
  private waiters = new Set<() => void>();
  private readonly snapshotFile: JsonFile<ProducerSnapshot>;

  private constructor(
    readonly dir: string,
    readonly topic: string,
    readonly partition: number,
    private readonly config: () => TopicDefaults,
    private readonly indexInterval: number,
    private readonly flusher: GroupFlusher,
    private readonly log: Logger,
  ) {
    this.snapshotFile = new JsonFile(join(dir, 'producer-state.json'));
  }

  /**
   * Open (or create) the partition directory. After an unclean stop (`clean` false) the active
   * segment is verified batch by batch and its torn tail truncated; everything before it stays.
   */
  static open(
    dir: string,
    topic: string,
    partition: number,
    config: () => TopicDefaults,
    indexInterval: number,
    flusher: GroupFlusher,
    log: Logger,
    clean: boolean,
  ): PartitionLog {
    mkdirSync(dir, { recursive: true });
    const p = new PartitionLog(dir, topic, partition, config, indexInterval, flusher, log);
    const bases = readdirSync(dir)
      .filter((f) => /^\d{20}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    if (bases.length === 0) {
      p.segments.push(Segment.create(dir, 0, indexInterval));
      fsyncDir(dir); // the new file's name must survive a power cut too
    }
    for (let i = 0; i < bases.length; i++) {
      const last = i === bases.length - 1;
      const { segment, truncated } = Segment.open(dir, bases[i]!, indexInterval, last && !clean);
      if (truncated) {
        log.warn(
          {
            topic,
            partition,
            segment: bases[i],
            at: truncated.at,
            droppedBytes: truncated.dropped,
            reason: truncated.reason,
          },
          'truncated torn tail of log segment',
        );
      }
      p.segments.push(segment);
    }
    p.recoverProducerState();
    // After a kill -9 the tail may be only in the page cache: make it durable before serving it.
    if (!clean) p.active.flushSync();
    p.hw = p.logEndOffset;
    p.hwPosition = p.active.size;
    return p;
  }

  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  /** End of what is fsync'ed: what consumers may read (Fetch) and what ListOffsets tells them is
   *  "latest"; their timestamp lookups stop here too (protocol/listOffsets/resolve.ts). */
  get highWatermark(): number {
    return this.hw;
  }

  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Rebuild idempotence state: the last snapshot plus the batch headers written after it. */
  private recoverProducerState(): void {
    let from = this.logStartOffset;
    try {
      const snap = this.snapshotFile.read();
      if (snap && snap.offset >= this.logStartOffset && snap.offset <= this.logEndOffset) {
        this.producers = ProducerStateTable.fromSnapshot(snap);
        from = snap.offset;
      }
    } catch (e) {
      this.log.warn(
        { topic: this.topic, partition: this.partition, err: e },
        'producer snapshot unreadable; rebuilding from log',
      );
    }
    for (const seg of this.segments) {
      if (seg.nextOffset <= from) continue;
      const start = seg.positionOf(from);
      if (!start) continue;
      seg.scan(start.position, (b) => {
        if (b.baseOffset >= from) this.producers.record(b, b.baseOffset);
      });
    }
  }

  /**
   * Validate and append the record set of one produce request (exactly one batch, as Kafka
   * requires from produce v3). The request buffer is modified in place (baseOffset).
   */
  append(records: Buffer): AppendResult {
    const cfg = this.config();
    let h: BatchInfo;
    try {
      h = validateBatch(records, 0, records.length, cfg.maxMessageBytes);
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      const code =
        e.kind === 'too-large'
          ? ErrorCode.MESSAGE_TOO_LARGE
          : e.kind === 'corrupt'
            ? ErrorCode.CORRUPT_MESSAGE
            : ErrorCode.INVALID_RECORD;
      return { errorCode: code, message: e.message };
    }
    if (h.size !== records.length) {
      return {
        errorCode: ErrorCode.INVALID_RECORD,
        message: `produce must carry exactly one record batch (${records.length} bytes, first batch ${h.size})`,
      };
    }
    if (h.transactional) {
      return { errorCode: ErrorCode.INVALID_RECORD, message: 'transactional batches are not supported' };
    }
    const check: SequenceCheck = this.producers.check(h);
    if (check.kind === 'duplicate') {
      return { errorCode: 0, baseOffset: check.firstOffset, duplicate: true, logAppendTime: -1 };
    }
    if (check.kind === 'error') return { errorCode: check.code, message: check.message };

    const baseOffset = this.logEndOffset;
    try {
      if (this.active.size > 0 && this.active.size + h.size > cfg.segmentBytes) this.roll();
      records.writeBigInt64BE(BigInt(baseOffset), BASE_OFFSET);
      // Journal first (what an fsync round makes durable), so a failed record leaves no batch.
      const undo = this.flusher.journal?.append(this.active, this.active.size, records);
      try {
        this.active.append(records, {
          baseOffset,
          lastOffset: baseOffset + h.lastOffsetDelta,
          maxTimestamp: h.maxTimestamp,
        });
      } catch (e) {
        undo?.();
        throw e;
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.log.error({ topic: this.topic, partition: this.partition, err: err.message }, 'append failed');
      return {
        errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
        message: `append failed: ${err.code ?? err.message}`,
      };
    }
    this.flusher.markDirty(this);
    this.producers.record(h, baseOffset);
    return { errorCode: 0, baseOffset, duplicate: false, logAppendTime: -1 };
  }

  /** Make the closing segment durable with its indexes and snapshot producer state, then roll. */
  private roll(): void {
    const old = this.active;
    old.flushSync();
    // All of the old segment is durable now; the high watermark moves to its end (and is the new
    // segment's start once that exists).
    const grew = old.nextOffset > this.hw;
    this.hw = old.nextOffset;
    this.hwPosition = old.size; // stays true if creating the next segment fails (disk full)
    this.producers.expire(Date.now(), PRODUCER_EXPIRY_MS);
    this.snapshotFile.write(this.producers.snapshot(old.nextOffset));
    this.segments.push(Segment.create(this.dir, old.nextOffset, this.indexInterval));
    this.hwPosition = 0;
    fsyncDir(this.dir);
    if (grew) this.notify();
    this.log.debug({ topic: this.topic, partition: this.partition, base: old.nextOffset }, 'rolled segment');
  }

  /** Where the log ends now, for the flusher's next round. */
  syncPoint(): SyncPoint {
    const a = this.active;
    return { segment: a, offset: a.nextOffset, position: a.size };
  }

  /** The flusher made everything up to `p` durable: serve it, and wake parked fetches. */
  durable(p: SyncPoint): void {
    // A point taken before a roll is behind the roll's own fsync (which moved hw already).
    if (p.offset <= this.hw || p.segment !== this.active) return;
    this.hw = p.offset;
    this.hwPosition = p.position;
    this.notify();
  }

  /**
   * Whole batches starting with the one containing `offset`, up to `maxBytes` and never past the
   * high watermark. With `atLeastOne` the first batch comes whole even if larger, so a big batch
   * can never block a consumer (Kafka does the same for the first partition with data in a
   * fetch). Offsets between the high watermark and the log end are valid but not readable yet
   * (empty, as Kafka answers a fetch there).
   */
  read(offset: number, maxBytes: number, atLeastOne = true): ReadResult {
    if (offset < this.logStartOffset || offset > this.logEndOffset) {
      return {
        errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
        message: `offset ${offset} outside [${this.logStartOffset}, ${this.logEndOffset}]`,
      };
    }
    if (offset >= this.hw) return { errorCode: 0, records: null };
    let i = this.segmentIndexFor(offset);
    for (; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      if (seg.nextOffset <= offset) continue;
      const at = seg.positionOf(offset);
      if (!at) continue;
      // Only the active segment can hold data past the high watermark (a roll fsyncs the old one).
      const readable = seg === this.active ? this.hwPosition - at.position : Number.MAX_SAFE_INTEGER;
      const data = seg.read(at.position, Math.max(Math.min(maxBytes, readable), 0));
      let end = 0;
      for (;;) {
        const size = batchSizeAt(data, end);
        if (size < 0 || end + size > data.length) break;
        end += size;
      }
      if (end > 0) return { errorCode: 0, records: data.subarray(0, end) };
      if (!atLeastOne) return { errorCode: 0, records: null };
      const first = seg.batchAt(at.position);
      if (!first || first.size > readable) return { errorCode: 0, records: null };
      return { errorCode: 0, records: seg.read(at.position, first.size) };
    }
    return { errorCode: 0, records: null };
  }

  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let ans = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  /**
   * The first batch with a timestamp >= ts (its base offset and max timestamp), or null if every
   * record is older (Kafka then answers offset -1).
   */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } | null {
    for (const seg of this.segments) {
      const o = seg.offsetForTimestamp(ts);
      if (o !== null) return o;
    }
    return null;
  }

  /** Largest timestamp in the log and the offset of its batch (ListOffsets MAX_TIMESTAMP). */
  maxTimestamp(): { offset: number; timestamp: number } | null {
    let best: Segment | undefined;
    for (const seg of this.segments)
      if (seg.maxTimestamp >= 0 && (!best || seg.maxTimestamp > best.maxTimestamp)) best = seg;
    return best ? best.offsetForTimestamp(best.maxTimestamp) : null;
  }

  /** Resolves when the high watermark next moves (or when `signal` aborts). For fetch long polls. */
  waitForData(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private notify(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    for (const w of ws) w();
  }

  /** Wait until everything appended so far is fsync'ed (group commit across partitions). */
  flush(): Promise<void> {
    return this.flusher.flush();
  }

  /**
   * Delete whole old segments past retention.ms / retention.bytes. Never the active segment.
   * Returns the number of segments deleted.
   */
  enforceRetention(nowMs: number): number {
    const cfg = this.config();
    let deleted = 0;
    const deleteOldest = () => {
      const seg = this.segments.shift()!;
      seg.remove();
      deleted++;
    };
    if (cfg.retentionMs >= 0) {
      // A partition nobody writes to any more must still age out (positions are personal data):
      // when even the active segment is past retention, roll it so it can be deleted like the rest.
      const a = this.active;
      if (a.size > 0 && a.maxTimestamp >= 0 && a.maxTimestamp < nowMs - cfg.retentionMs) {
        try {
          this.roll();
        } catch (e) {
          this.log.error(
            { topic: this.topic, partition: this.partition, err: (e as Error).message },
            'roll for retention failed',
          );
        }
      }
      while (this.segments.length > 1) {
        const seg = this.segments[0]!;
        const ts = seg.maxTimestamp >= 0 ? seg.maxTimestamp : mtimeMs(seg);
        if (ts >= nowMs - cfg.retentionMs) break;
        deleteOldest();
      }
    }
    if (cfg.retentionBytes >= 0) {
      let excess = this.sizeBytes - cfg.retentionBytes;
      while (this.segments.length > 1 && excess >= this.segments[0]!.size) {
        excess -= this.segments[0]!.size;
        deleteOldest();
      }
    }
    if (deleted > 0) {
      this.log.info(
        { topic: this.topic, partition: this.partition, deleted, logStartOffset: this.logStartOffset },
        'retention deleted old segments',
      );
    }
    return deleted;
  }

  /** fsync everything and persist producer state for a fast clean restart. */
  closeClean(): void {
    for (const s of this.segments) s.flushSync();
    this.snapshotFile.write(this.producers.snapshot(this.logEndOffset));
    this.close();
  }

  close(): void {
    for (const w of [...this.waiters]) w();
    for (const s of this.segments) s.close();
  }
}

function mtimeMs(seg: Segment): number {
  try {
    return statSync(seg.path).mtimeMs;
  } catch {
    return 0;
  }
}
