// Idempotent-producer state of one partition: for each producer id, its epoch and the last few
// batches (sequence range -> offsets), as Kafka keeps them. A retried batch whose sequence range
// matches a remembered one is a duplicate: acked with its original offset, not stored again.
// A gap in sequence numbers is OUT_OF_ORDER_SEQUENCE_NUMBER. The table is rebuilt after a restart
// from a snapshot plus the batch headers appended after it (see storage/log.ts).

import { ErrorCode } from '../protocol/errors.js';
import type { BatchInfo } from '../storage/batch.js';

/** Batches remembered per producer: kafkajs and librdkafka keep at most 5 in flight. */
export const CACHED_BATCHES = 5;
const SEQ_MOD = 2 ** 31;

export interface BatchMeta {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

export interface ProducerEntry {
  epoch: number;
  batches: BatchMeta[];
  lastTimestamp: number;
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number }
  | { kind: 'error'; code: number; message: string };

export interface ProducerSnapshot {
  /** State reflects all batches below this offset. */
  offset: number;
  producers: [number, ProducerEntry][];
}

function lastSeqOf(h: BatchInfo): number {
  return (h.baseSequence + h.lastOffsetDelta) % SEQ_MOD;
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  check(h: BatchInfo): SequenceCheck {
    if (h.producerId < 0) return { kind: 'append' };
    const e = this.producers.get(h.producerId);
    // Unknown producer (new, or its state aged out): accept it from whatever sequence it is at.
    if (!e) return { kind: 'append' };
    if (h.producerEpoch < e.epoch) {
      return {
        kind: 'error',
        code: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer ${h.producerId} epoch ${h.producerEpoch} is older than current epoch ${e.epoch}`,
      };
    }
    if (h.producerEpoch > e.epoch) {
      if (h.baseSequence === 0) return { kind: 'append' };
      return {
        kind: 'error',
        code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${h.producerId} new epoch ${h.producerEpoch} must start at sequence 0, got ${h.baseSequence}`,
      };
    }
    const last = lastSeqOf(h);
    for (const b of e.batches) {
      if (b.firstSeq === h.baseSequence && b.lastSeq === last) {
        return { kind: 'duplicate', firstOffset: b.firstOffset, lastOffset: b.lastOffset };
      }
    }
    const newest = e.batches[e.batches.length - 1];
    const expected = newest ? (newest.lastSeq + 1) % SEQ_MOD : h.baseSequence;
    if (h.baseSequence === expected) return { kind: 'append' };
    const oldest = e.batches[0];
    if (oldest && h.baseSequence < oldest.firstSeq && expected > h.baseSequence) {
      return {
        kind: 'error',
        code: ErrorCode.DUPLICATE_SEQUENCE_NUMBER,
        message: `producer ${h.producerId} sequence ${h.baseSequence} is older than the remembered batches`,
      };
    }
    return {
      kind: 'error',
      code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      message: `producer ${h.producerId} sequence ${h.baseSequence}, expected ${expected}`,
    };
  }

  /**
   * Record an appended (or recovered) batch at `firstOffset`. Activity is timed by the broker's
   * clock, not the records' timestamps: a backlog of old fixes must not look like an idle producer.
   */
  record(h: BatchInfo, firstOffset: number, nowMs = Date.now()): void {
    if (h.producerId < 0) return;
    let e = this.producers.get(h.producerId);
    if (!e || h.producerEpoch > e.epoch) {
      e = { epoch: h.producerEpoch, batches: [], lastTimestamp: nowMs };
      this.producers.set(h.producerId, e);
    }
    e.batches.push({
      firstSeq: h.baseSequence,
      lastSeq: lastSeqOf(h),
      firstOffset,
      lastOffset: firstOffset + h.lastOffsetDelta,
    });
    if (e.batches.length > CACHED_BATCHES) e.batches.shift();
    e.lastTimestamp = Math.max(e.lastTimestamp, nowMs);
  }

  /** Forget producers silent for longer than `maxIdleMs` (Kafka's transactional.id.expiration). */
  expire(nowMs: number, maxIdleMs: number): void {
    for (const [pid, e] of this.producers)
      if (e.lastTimestamp < nowMs - maxIdleMs) this.producers.delete(pid);
  }

  snapshot(offset: number): ProducerSnapshot {
    return { offset, producers: [...this.producers.entries()] };
  }

  static fromSnapshot(s: ProducerSnapshot): ProducerStateTable {
    const t = new ProducerStateTable();
    for (const [pid, e] of s.producers) t.producers.set(pid, e);
    return t;
  }
}
