// Whether a group's sink is writing: the current run of failed flushes, if any.
//
// Why: a full disk under SQLite (or a table the database refuses to grow) leaves every check of
// /healthz answering (the database opens and SELECTs, the consumer is joined and heartbeating)
// while the flushes fail and the lag grows. The group's health check reads this and says so.
// It lives in the supervisor, not the consumer: a failed flush may crash the consumer, and the
// replacement must not start the run over.
//
// A success in the middle of failures does not end the run. On a full disk some flushes still
// go through: one whose fixes the other store group already wrote changes no page, and a small
// one may fit in the WAL's reused space. Ending the run at each of them restarted the count, so
// /healthz could stay 200 all through an outage. The run ends once a flush has succeeded and none
// has failed for FLUSH_FAILING_UNHEALTHY_MS: the same time it takes to become unhealthy.
import { bootMonotonicMs } from '../../shared/monotonic.js';

/** Failed flushes for at least this long (ms) make the group's /healthz check fail, and this long
 *  without a failure after a success ends it. A single failure that the redelivery fixes (a
 *  PostgreSQL deadlock around a rebalance) does neither. */
export const FLUSH_FAILING_UNHEALTHY_MS = 5_000;

export interface FlushFailing {
  /** bootMonotonicMs() of the first failed flush of the run (an age is taken from it, on the
   *  main thread for a group on the store groups thread: see GroupState.since). */
  since: number;
  /** bootMonotonicMs() of the latest failed flush. */
  lastFailed: number;
  /** Whether a flush has succeeded since the latest failure. */
  succeededSince: boolean;
  /** Flushes failed and succeeded since the run began. */
  failed: number;
  succeeded: number;
  /** The last failure's message. */
  error: string;
}

/** Whether the run is over: a flush succeeded after the last failure, and that was long enough
 *  ago. */
function over(f: FlushFailing, now: number): boolean {
  return f.succeededSince && now - f.lastFailed >= FLUSH_FAILING_UNHEALTHY_MS;
}

export class FlushHealth {
  private run: FlushFailing | undefined;

  ok(): void {
    if (!this.run) return;
    this.run.succeeded++;
    this.run.succeededSince = true;
  }

  failed(e: unknown, now = bootMonotonicMs()): void {
    const error = e instanceof Error ? e.message : String(e);
    const r = this.current(now);
    this.run = {
      since: r?.since ?? now,
      lastFailed: now,
      succeededSince: false,
      failed: (r?.failed ?? 0) + 1,
      succeeded: r?.succeeded ?? 0,
      error,
    };
  }

  /** The current run of failures, or undefined once it is over (or none began). */
  failing(now = bootMonotonicMs()): FlushFailing | undefined {
    const r = this.current(now);
    return r && { ...r };
  }

  /** The run, dropped first if it is over. */
  private current(now: number): FlushFailing | undefined {
    if (this.run && over(this.run, now)) this.run = undefined;
    return this.run;
  }
}

/** Why the group is not healthy because of its flushes, or null. */
export function flushTrouble(f: FlushFailing | undefined, now = bootMonotonicMs()): string | null {
  if (!f || over(f, now) || now - f.since < FLUSH_FAILING_UNHEALTHY_MS) return null;
  const secs = Math.round((now - f.since) / 1000);
  const which =
    f.succeeded === 0 ? 'none succeeded' : `${f.succeeded} of ${f.failed + f.succeeded} succeeded`;
  return `flushes failing for ${secs} s (${which}): ${f.error}`;
}
