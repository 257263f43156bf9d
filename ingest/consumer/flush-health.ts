// Whether a group's sink is writing: the start of the current run of failed flushes, if any.
//
// Why: a full disk under SQLite (or a table the database refuses to grow) leaves every check of
// /healthz answering (the database opens and SELECTs, the consumer is joined and heartbeating)
// while no flush succeeds and the lag grows. The group's health check reads this and says so.
// It lives in the supervisor, not the consumer: a failed flush may crash the consumer, and the
// replacement must not start the run over.
import { bootMonotonicMs } from '../../shared/monotonic.js';

/** Failed flushes for at least this long (ms) make the group's /healthz check fail. A single
 *  failure that the redelivery fixes (a PostgreSQL deadlock around a rebalance) does not. */
export const FLUSH_FAILING_UNHEALTHY_MS = 5_000;

export interface FlushFailing {
  /** bootMonotonicMs() of the first failed flush of the run (an age is taken from it, on the
   *  main thread for a group on the store groups thread: see GroupState.since). */
  since: number;
  /** The last failure's message. */
  error: string;
}

export class FlushHealth {
  private run: FlushFailing | undefined;

  ok(): void {
    this.run = undefined;
  }

  failed(e: unknown, now = bootMonotonicMs()): void {
    const error = e instanceof Error ? e.message : String(e);
    this.run = { since: this.run?.since ?? now, error };
  }

  /** The current run of failures, or undefined while the last flush succeeded. */
  failing(): FlushFailing | undefined {
    return this.run && { ...this.run };
  }
}

/** Why the group is not healthy because of its flushes, or null. */
export function flushTrouble(f: FlushFailing | undefined, now = bootMonotonicMs()): string | null {
  if (!f || now - f.since < FLUSH_FAILING_UNHEALTHY_MS) return null;
  return `no flush has succeeded for ${Math.round((now - f.since) / 1000)} s: ${f.error}`;
}
