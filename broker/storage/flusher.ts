// Group commit for acks=-1: every produce that needs durability waits for the next fsync round,
// and one round fsyncs every segment written since the previous one. While a round runs, new
// waiters queue for the following round, so N concurrent producers cost about one fsync per
// round rather than N.
import type { Segment } from './segment.js';

export interface FlushStats {
  rounds: number;
  waiters: number;
  segmentsSynced: number;
}

export class GroupFlusher {
  private dirty = new Set<Segment>();
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private running = false;
  readonly stats: FlushStats = { rounds: 0, waiters: 0, segmentsSynced: 0 };

  markDirty(seg: Segment): void {
    this.dirty.add(seg);
  }

  /** Resolves once everything appended before this call is on disk. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.running) void this.round();
    });
  }

  private async round(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      const waiters = this.waiting;
      const segs = [...this.dirty];
      this.waiting = [];
      this.dirty = new Set();
      this.stats.rounds++;
      this.stats.waiters += waiters.length;
      this.stats.segmentsSynced += segs.length;
      try {
        await Promise.all(segs.filter((s) => !s.isClosed).map((s) => s.flushAsync().catch(ignoreClosed(s))));
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e as Error);
      }
    }
    this.running = false;
  }
}

// A segment deleted (retention, topic deletion) while its fsync was queued has nothing left to
// make durable; any other failure is real and fails the waiting produce requests.
function ignoreClosed(s: Segment) {
  return (e: NodeJS.ErrnoException) => {
    if (s.isClosed && e.code === 'EBADF') return;
    throw e;
  };
}
