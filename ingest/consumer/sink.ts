// What a consumer group does with decoded fixes. The runner commits the Kafka offsets of a batch
// only after handleBatch resolved, so a sink must resolve only once its work is durable (or,
// for an in-memory view, done), and may be handed the same fixes again after a crash.
import type { Fix } from '../../shared/fix.js';
import type { RejectedSeq } from '../db/rejected.js';

export interface FixSink {
  /** Rejecting means "not done": the runner does not commit and the fixes come again. */
  handleBatch(fixes: readonly Fix[]): Promise<void>;
  /**
   * Seqs of the batch the group refused (dead-lettered) whose record named its device and seq.
   * The sink that stores fixes records them, so they show as rejected rather than as a gap that
   * never fills; like handleBatch, it resolves once that is durable and may be given them again.
   */
  handleRejected?(rejected: readonly RejectedSeq[]): Promise<void>;
  /** The group stopped for good (after its last flush): say what is still held back. */
  stopped?(): void;
}
