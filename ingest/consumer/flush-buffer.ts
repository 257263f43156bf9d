// Collects fixes from concurrently consumed partitions and hands them to the sink in one call
// once `maxRows` are waiting or the oldest has waited `maxMs`, whichever comes first. Each add()
// resolves when the flush holding its fixes is durable, so the caller can commit its offsets.
// Flushes run one at a time, in arrival order, which keeps each device's fixes in order.
// discard() drops what has not started writing (durable-commits.ts: after a failed flush the
// consumer reads it again, so writing it meanwhile would only be done twice).
import type { Fix } from '../../shared/fix.js';

interface Waiter {
  remaining: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class FlushBuffer {
  private pending: Fix[] = [];
  /** Per add() call, in order: how many of its fixes are still pending. */
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Bumped by discard(): a flush cut before it is not written. */
  private epoch = 0;

  constructor(
    private readonly flushFn: (fixes: Fix[]) => Promise<void>,
    readonly maxRows: number,
    readonly maxMs: number,
  ) {
    if (!(maxRows >= 1)) throw new Error(`FlushBuffer maxRows must be >= 1, got ${maxRows}`);
  }

  add(fixes: readonly Fix[]): Promise<void> {
    if (fixes.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => {
      this.waiters.push({ remaining: fixes.length, resolve, reject });
    });
    for (const f of fixes) this.pending.push(f);
    while (this.pending.length >= this.maxRows) this.cut(this.maxRows);
    if (this.pending.length > 0 && !this.timer) {
      this.timer = setTimeout(() => this.cut(this.pending.length), this.maxMs);
    }
    return done;
  }

  /**
   * Drops the pending fixes and the flushes not yet started: their add() calls reject with
   * `reason`. The flush being written, if any, still completes.
   */
  discard(reason: Error): void {
    this.stopTimer();
    this.epoch++;
    this.pending = [];
    for (const w of this.waiters.splice(0)) w.reject(reason);
  }

  /** Flushes whatever is pending now (shutdown). */
  flushNow(): Promise<void> {
    if (this.pending.length > 0) this.cut(this.pending.length);
    return this.chain;
  }

  /** Takes the first n pending fixes as one flush and settles the add() calls it completes. */
  private cut(n: number): void {
    this.stopTimer();
    const rows = this.pending.splice(0, n);
    if (rows.length === 0) return;
    // Which waiters this flush completes (fully), and which it only partly covers.
    const settled: Waiter[] = [];
    const touched: Waiter[] = [];
    let left = rows.length;
    while (left > 0) {
      const w = this.waiters[0]!;
      const take = Math.min(left, w.remaining);
      w.remaining -= take;
      left -= take;
      touched.push(w);
      if (w.remaining === 0) {
        settled.push(w);
        this.waiters.shift();
      }
    }
    if (this.pending.length > 0 && !this.timer) {
      this.timer = setTimeout(() => this.cut(this.pending.length), this.maxMs);
    }
    // The chain never rejects: a failed flush fails every add() it held a part of (their callers
    // do not commit), and the next flush still runs.
    const epoch = this.epoch;
    this.chain = this.chain
      .then(() => {
        if (epoch !== this.epoch) throw new Error('flush discarded: its fixes are read again');
        return this.flushFn(rows);
      })
      .then(
        () => {
          for (const w of settled) w.resolve();
        },
        (e: unknown) => {
          for (const w of touched) w.reject(e);
        },
      );
  }

  private stopTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
