// Group commit, and the point up to which consumers may read.
//
// Every append marks its partition dirty; a round fsyncs the journal (journal.ts: every append
// is in it too; without one, as in the storage tests, every segment written since the previous
// round) and then tells each partition how far it is now durable. Consumers are served only up to
// that point (the high watermark, see log.ts), so nobody reads data that a power cut could take
// back. acks=-1 produce requests wait for the round that covers their append. While a round
// runs, new appends and waiters queue for the following round, so N concurrent producers cost
// about one fsync per round rather than N. Rounds start on the next turn of the event loop after
// the first append, so the partitions of one produce request (and of requests arriving together)
// share a round.
import type { Journal } from './journal.js';
import type { Segment } from './segment.js';

export interface FlushStats {
  rounds: number;
  waiters: number;
  segmentsSynced: number;
}

/** Where a partition's log ends at the start of a round: what the round makes durable. */
export interface SyncPoint {
  segment: Segment;
  /** Offset after the last batch written. */
  offset: number;
  /** Byte position after that batch in `segment`. */
  position: number;
}

/** A partition log as the flusher sees it. */
export interface Durable {
  syncPoint(): SyncPoint;
  /** Everything up to `p` is on disk. */
  durable(p: SyncPoint): void;
}

export class GroupFlusher {
  private dirty = new Set<Durable>();
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private running = false;
  private scheduled = false;
  /** Set by the first failed fsync: from then on nothing becomes durable or readable. */
  private failed: Error | null = null;
  readonly stats: FlushStats = { rounds: 0, waiters: 0, segmentsSynced: 0 };
  /** Set once the broker has opened (and replayed) it; the logs record their appends in it. */
  journal: Journal | undefined;

  /** `onError`: an fsync failed (the waiting produce requests are failed too; data stays unread). */
  constructor(private readonly onError: (e: Error) => void = () => {}) {}

  markDirty(log: Durable): void {
    this.dirty.add(log);
    this.schedule();
  }

  /** Resolves once everything appended before this call is on disk. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.round();
    });
  }

  private async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.waiting.length > 0 || this.dirty.size > 0) {
      const waiters = this.waiting;
      const points = [...this.dirty].map((log) => ({ log, point: log.syncPoint() }));
      this.waiting = [];
      this.dirty = new Set();
      this.stats.rounds++;
      this.stats.waiters += waiters.length;
      try {
        if (this.failed) throw this.failed;
        await this.sync(points);
        for (const { log, point } of points) log.durable(point);
        for (const w of waiters) w.resolve();
      } catch (e) {
        // Not retried, and every later round fails too (as Kafka takes a log dir offline): after
        // a failed fsync the kernel may have dropped the dirty pages, so a later "successful"
        // fsync would prove nothing. Until a restart (which verifies the logs' tails) nothing more
        // is acknowledged with acks=-1 or served to consumers.
        for (const w of waiters) w.reject(e as Error);
        if (!this.failed) {
          this.failed = e as Error;
          this.onError(e as Error);
        }
      }
    }
    this.running = false;
  }

  private async sync(points: { point: SyncPoint }[]): Promise<void> {
    if (this.journal) return this.journal.sync();
    const segs = new Set(points.map((p) => p.point.segment).filter((s) => !s.isClosed && s.dirty));
    this.stats.segmentsSynced += segs.size;
    await Promise.all([...segs].map((s) => s.flushAsync().catch(ignoreClosed(s))));
  }
}

// A segment closed while its fsync was queued (deleted by retention or with its topic; rolled or
// closed at shutdown, both synced then) has nothing left to make durable; any other failure is
// real and fails the waiting produce requests (or the journal checkpoint, journal.ts).
export function ignoreClosed(s: Segment) {
  return (e: NodeJS.ErrnoException) => {
    if (s.isClosed && e.code === 'EBADF') return;
    throw e;
  };
}
