// Retries a Kafka client step (admin/producer connect, topic creation) until it works, so the
// ingest process comes up whatever state the broker is in and catches up when it is back.
// A setting the broker refuses (kafka-errors.ts isConfigError) is not retried: it rejects.
import { abortableSleep } from '../../shared/abortable-sleep.js';
import type { Logger } from '../../shared/log.js';
import { describeError, isConfigError } from './kafka-errors.js';

export async function keepTrying(
  what: string,
  step: () => Promise<unknown>,
  log: Logger,
  signal: AbortSignal,
  retryMs = { first: 500, max: 30_000 },
): Promise<boolean> {
  let delay = retryMs.first;
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      await step();
      if (attempt > 1) log.info({ what, attempt }, 'Kafka step succeeded after retries');
      return true;
    } catch (e) {
      if (signal.aborted) return false;
      if (isConfigError(e)) throw e;
      log.warn({ what, attempt, reason: describeError(e), retryInMs: delay }, 'Kafka step failed; retrying');
    }
    await abortableSleep(delay, signal);
    delay = Math.min(delay * 2, retryMs.max);
  }
  return false;
}
