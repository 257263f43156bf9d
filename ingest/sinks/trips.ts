// The trips group's sink: each flush folds its fixes into the per-day trip rows in one transaction.
import type { Fix } from '../../shared/fix.js';
import type { Logger } from '../../shared/log.js';
import type { FixSink } from '../consumer/sink.js';
import type { Store } from '../db/store.js';

export function tripsSink(store: Store, log: Logger): FixSink {
  return {
    async handleBatch(fixes: readonly Fix[]) {
      const r = await store.applyTrips(fixes);
      if (r.recomputedDays > 0) {
        log.info({ recomputedDays: r.recomputedDays }, 'late or redelivered fixes: trip days rebuilt');
      }
    },
  };
}
