// What one flush does with the sink: time and count it, and tell data errors from outages.
// A data error (this fix can never be stored, db/errors.ts) must not stall the partition: the
// flush is halved until the fixes behind it are found, those are dead-lettered (or counted when
// this group does not publish), the rest is written. Any other error fails the flush, so nothing
// is committed and the batch comes again.
import type { Fix } from '../../shared/fix.js';
import type { Logger } from '../../shared/log.js';
import { isDataError } from '../db/errors.js';
import type { IngestMetrics } from '../metrics.js';
import type { DeadLetterQueue } from './dead-letter.js';
import type { FlushHealth } from './flush-health.js';
import type { FixSink } from './sink.js';

export interface GuardOptions {
  sink: FixSink;
  metrics: IngestMetrics;
  group: string;
  log: Logger;
  deadLetter?: DeadLetterQueue | undefined;
  /** Told of each flush's outcome (the group's /healthz check reads it). */
  health?: FlushHealth | undefined;
}

export function guardedFlush(o: GuardOptions): (fixes: Fix[]) => Promise<void> {
  const m = o.metrics;
  const labels = { group: o.group };

  const write = async (fixes: Fix[]) => {
    const end = m.writeSeconds.startTimer(labels);
    await o.sink.handleBatch(fixes);
    end();
    m.batchSize.observe(labels, fixes.length);
  };

  const reject = async (fix: Fix, e: unknown) => {
    const reason = `database rejected the fix: ${e instanceof Error ? e.message : String(e)}`;
    m.dlqRecords.inc({ ...labels, reason: 'database' });
    o.log.warn({ deviceId: fix.deviceId, seq: fix.seq, reason, dlq: !!o.deadLetter }, 'unstorable fix');
    await o.deadLetter?.sendRejectedFix(fix, reason, o.group);
    await recordRejected(fix, reason);
  };

  // The refused seq is recorded so it shows as rejected, not as a gap. Recording it can fail
  // as data too (whatever made the row unstorable may be in its device id): then the seq stays a
  // gap, which is logged, and the partition still moves on.
  const recordRejected = async (fix: Fix, reason: string) => {
    try {
      await o.sink.handleRejected?.([{ deviceId: fix.deviceId, seq: fix.seq, reason }]);
    } catch (e) {
      if (!isDataError(e)) throw e;
      o.log.warn({ deviceId: fix.deviceId, seq: fix.seq, err: e }, 'could not record the refused seq');
    }
  };

  const isolate = async (fixes: Fix[], e: unknown): Promise<void> => {
    if (fixes.length === 1) return reject(fixes[0]!, e);
    const mid = fixes.length >> 1;
    for (const half of [fixes.slice(0, mid), fixes.slice(mid)]) {
      try {
        await write(half);
      } catch (err) {
        if (!isDataError(err)) throw err;
        await isolate(half, err);
      }
    }
  };

  return async (fixes) => {
    try {
      try {
        await write(fixes);
      } catch (e) {
        if (!isDataError(e)) throw e;
        await isolate(fixes, e);
      }
      o.health?.ok();
    } catch (e) {
      o.health?.failed(e);
      m.sinkErrors.inc(labels);
      o.log.error({ err: e, fixes: fixes.length }, 'sink flush failed; the batch will be redelivered');
      throw e;
    }
  };
}
