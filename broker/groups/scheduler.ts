// Time as the coordinator sees it: timers it can cancel. The real one wraps setTimeout; the manual
// one lets unit tests move time by hand, so session and rebalance timeouts are tested exactly and
// without sleeping.

export type Cancel = () => void;

export interface Scheduler {
  after(ms: number, fn: () => void): Cancel;
}

export const realScheduler: Scheduler = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    // A group timer alone must not keep a stopping process alive.
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Deterministic time for tests: nothing fires until advance() passes its due time. */
export class ManualScheduler implements Scheduler {
  private nowMs = 0;
  private seq = 0;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  get now(): number {
    return this.nowMs;
  }

  get pending(): number {
    return this.timers.size;
  }

  after(ms: number, fn: () => void): Cancel {
    const id = this.seq++;
    this.timers.set(id, { due: this.nowMs + ms, fn });
    return () => {
      this.timers.delete(id);
    };
  }

  /** Moves time forward, firing due timers in due order (ties in creation order). */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const e of this.timers) {
        if (e[1].due <= target && (!next || e[1].due < next[1].due)) next = e;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.nowMs = next[1].due;
      next[1].fn();
    }
    this.nowMs = target;
  }
}
