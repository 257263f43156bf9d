// The trips group's sink: each flush folds its fixes into the per-day trip rows in one transaction.
import type { Fix } from '../../shared/fix.js';
import type { Logger } from '../../shared/log.js';
import type { FixSink } from '../consumer/sink.js';
import type { Store } from '../db/store.js';
import type { IngestMetrics } from '../metrics.js';
import { RebuildLog } from './rebuild-log.js';

// A fix the trips group stores before fix-store gets to it counts as written by `trips`: summed over
// groups, ingest_written_fixes_total is the number of rows stored.
export function tripsSink(
  store: Store,
  metrics: IngestMetrics,
  log: Logger,
  group = 'trips',
  rebuildLogEveryMs?: number,
): FixSink {
  const rebuilds = new RebuildLog(log, rebuildLogEveryMs);
  return {
    async handleBatch(fixes: readonly Fix[]) {
      const r = await store.applyTrips(fixes);
      metrics.writtenFixes.inc({ group }, r.inserted);
      metrics.tripDaysRebuilt.inc(r.recomputedDays);
      metrics.tripRebuildsResumed.inc(r.resumedRebuilds);
      metrics.tripRebuildReads.inc(r.rebuildReads);
      rebuilds.note(r.rebuilt);
    },
    // The summary a minute's timer still holds would otherwise never be written.
    stopped: () => rebuilds.flush(),
  };
}
