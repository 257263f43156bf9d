// Refreshes the seq-gap gauges from the database now and then. Not per flush: a device with a
// permanent (lost) gap would make every flush scan its seqs.
import type { Logger } from '../../shared/log.js';
import { pollEvery } from '../consumer/poll.js';
import type { Store } from '../db/store.js';
import type { IngestMetrics } from '../metrics.js';

export function pollGaps(store: Store, metrics: IngestMetrics, log: Logger, intervalMs = 15_000): () => void {
  return pollEvery(intervalMs, 'count seq gaps', log, async () => {
    const { missing, lost, rejected } = await store.gapTotals();
    metrics.seqMissing.set(missing);
    metrics.seqLost.set(lost);
    metrics.seqRejected.set(rejected);
  });
}
