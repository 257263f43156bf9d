// Collects fixes from concurrently consumed partitions and hands them to the sink in one call
// once `maxRows` are waiting or the oldest has waited `maxMs`, whichever comes first. Each add()
// resolves when the flush holding its fixes is durable, so the caller can commit its offsets.
// Flushes run one at a time, in arrival order, which keeps each device's fixes in order.
// discard() drops what has not started writing (durable-commits.ts: after a failed flush the
// consumer reads it again, so writing it meanwhile would only be done twice).
//
// The flushes of one fetched batch follow each other as promise callbacks. A synchronous sink
// (better-sqlite3) returns without giving the event loop a turn, so a batch cut into many flushes
// used to hold this thread for the whole batch (3,000 one-row flushes: 600 ms with no timer, no
// socket read, no heartbeat answer, no HTTP request). A flush that starts after the chain has run
// for `yieldAfterMs` without a turn waits for one first (setImmediate).
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
  /** When the flushes started running without the event loop getting a turn (undefined: it had one). */
  private busySince: number | undefined;

  constructor(
    private readonly flushFn: (fixes: Fix[]) => Promise<void>,
    readonly maxRows: number,
    readonly maxMs: number,
    readonly yieldAfterMs = 10,
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
    const discarded = () => epoch !== this.epoch;
    this.chain = this.chain
      .then(() => this.giveTurnIfBusy())
      .then(() => {
        if (discarded()) throw new Error('flush discarded: its fixes are read again');
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

  /**
   * Resolves at once unless the flushes have held the thread for `yieldAfterMs`; then after one
   * event-loop turn. The first flush of a run arms a setImmediate that marks the turn.
   */
  private giveTurnIfBusy(): Promise<void> | undefined {
    const now = performance.now();
    if (this.busySince === undefined) {
      this.busySince = now;
      setImmediate(() => {
        this.busySince = undefined;
      });
      return undefined;
    }
    if (now - this.busySince < this.yieldAfterMs) return undefined;
    // The armed setImmediate runs first (it was queued earlier) and starts a new run.
    return new Promise((resolve) => setImmediate(resolve));
  }

  private stopTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
