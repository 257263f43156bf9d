// What a consumer group does with decoded fixes. The runner commits the Kafka offsets of a batch
// only after handleBatch resolved, so a sink must resolve only once its work is durable (or,
// for an in-memory view, done), and may be handed the same fixes again after a crash.
import type { Fix } from '../../shared/fix.js';

export interface FixSink {
  /** Rejecting means "not done": the runner does not commit and the fixes come again. */
  handleBatch(fixes: readonly Fix[]): Promise<void>;
}
