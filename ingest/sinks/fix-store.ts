// The fix-store group's sink: each flush is one idempotent database transaction.
import type { Fix } from '../../shared/fix.js';
import type { FixSink } from '../consumer/sink.js';
import type { Store } from '../db/store.js';
import type { IngestMetrics } from '../metrics.js';

export function fixStoreSink(store: Store, metrics: IngestMetrics, group = 'fix-store'): FixSink {
  return {
    async handleBatch(fixes: readonly Fix[]) {
      const added = await store.writeFixes(fixes);
      metrics.writtenFixes.inc({ group }, added);
    },
    async handleRejected(rejected) {
      await store.writeRejected(rejected);
    },
  };
}
