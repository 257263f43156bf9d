// Commits a partition's offset once the flush holding its batch is durable, while the consumer
// goes on fetching and decoding the next batches.
//
// Why: kafkajs fetches again only once every batch of the last fetch has been handled. A batch
// handled "when its fixes are durable and its offset committed" kept the consumer idle for the
// whole write and the commit round trip: one thread decoding, then writing, then decoding. Here a
// batch is handed over (track()) and kafkajs moves on; its offset is committed later, in order,
// once it and every batch of its partition before it are durable. The next fetch and the commit
// round trips then overlap the write, and so does the decoding when the write is not on this
// thread (PostgreSQL). SQLite's synchronous write still holds the thread (README: a writer thread
// was measured and backed out).
//
// What stays true:
// - A commit never passes a fix that is not durable: a partition's offsets are committed in batch
//   order, each only after its own flush (and dead-letter sends) resolved.
// - A failed flush is read again: every partition is rewound (kafkajs seek, no commit) to its first
//   offset not yet durable and paused for a backoff that doubles while flushes keep failing (a
//   database away, a full disk), as a restarted consumer would read from its commits, but without
//   leaving the group: no rebalance for the other members during an outage. Batches already
//   handed over are never committed (their epoch is over) and not written (the runner discards
//   the flushes not yet started); they are read again, and the sinks are idempotent. All
//   partitions, not only the failed flush's (a flush holds many partitions' fixes): one backoff
//   for the member, as one restart would be.
// - Memory is bounded: room() holds the consumer while more than `limit` fixes are not yet durable.
// - After a rebalance kafkajs reads from the committed offsets again: reset() ends every epoch,
//   so nothing handed over before it is committed afterwards.

export interface DurableCommitsOptions {
  /** Commits these offsets (the next offset to read, per partition) for the group. */
  commit(offsets: { partition: number; offset: string }[]): Promise<void>;
  /** The partitions this member holds now: an offset of one it lost is not committed. */
  owns(partition: number): boolean;
  /** Reads each partition again from its offset, after `pauseMs` (a failed flush). */
  rewind(positions: { partition: number; offset: string }[], pauseMs: number): void;
  /** A commit that failed (it is not retried: the next one covers it, or the batch comes again). */
  commitFailed(e: unknown): void;
  /** Backoff after a failed flush: first, doubled while flushes fail, up to max (ms). */
  backoffMs?: { first: number; max: number };
}

interface PartitionState {
  /** Settles after the last batch handed over (never rejects). */
  tail: Promise<void>;
  /** The next offset to read once every batch handed over so far in this epoch is durable. */
  durableThrough: string;
}

export class DurableCommits {
  private readonly parts = new Map<number, PartitionState>();
  /** Bumped by a rewind or a reset: batches handed over before it are never committed. */
  private epoch = 0;
  /** Durable, not yet committed: partition -> next offset to read. */
  private readonly ready = new Map<number, string>();
  private committing: Promise<void> | undefined;
  /** Fixes handed over whose flush has not settled. */
  private outstanding = 0;
  /** Batches handed over whose flush has not settled, and committed or dropped since. */
  private pendingBatches = 0;
  private wakers: (() => void)[] = [];
  private backoff = 0;

  constructor(private readonly o: DurableCommitsOptions) {}

  /**
   * Hands over a batch of `partition` holding offsets [first, next): `durable` resolves when its
   * fixes are stored (and its bad records dead-lettered), or rejects if they were not.
   */
  track(partition: number, first: string, next: string, fixes: number, durable: Promise<unknown>): void {
    let part = this.parts.get(partition);
    if (!part) {
      part = { tail: Promise.resolve(), durableThrough: first };
      this.parts.set(partition, part);
    }
    const state = part;
    const epoch = this.epoch;
    this.outstanding += fixes;
    this.pendingBatches++;
    const settled = () => {
      this.outstanding -= fixes;
      this.wake();
    };
    // Attached now, so a rejection is handled even while the partition's chain is still behind it.
    durable.then(settled, settled);
    state.tail = state.tail
      .then(() => durable)
      .then(
        () => {
          if (this.epoch !== epoch) return;
          state.durableThrough = next;
          this.backoff = 0;
          this.ready.set(partition, next);
        },
        () => {
          if (this.epoch !== epoch) return;
          this.epoch++;
          const firstMs = this.o.backoffMs?.first ?? 500;
          this.backoff = Math.min(
            this.backoff === 0 ? firstMs : this.backoff * 2,
            this.o.backoffMs?.max ?? 5000,
          );
          const positions = [...this.parts].map(([p, x]) => ({ partition: p, offset: x.durableThrough }));
          this.o.rewind(positions, this.backoff);
        },
      )
      .finally(() => {
        this.pendingBatches--;
        this.kick();
      });
  }

  /** Resolves once at most `limit` fixes handed over are not yet durable. */
  async room(limit: number): Promise<void> {
    while (this.outstanding > limit) await new Promise<void>((r) => this.wakers.push(r));
  }

  /** Resolves once every batch handed over has settled and what was durable is committed. */
  async settled(): Promise<void> {
    for (;;) {
      if (this.pendingBatches === 0 && !this.committing && this.ready.size === 0) return;
      if (this.committing) await this.committing;
      else if (this.pendingBatches === 0) this.kick();
      else await new Promise<void>((r) => this.wakers.push(r));
    }
  }

  /**
   * The group rebalanced: kafkajs reads every partition it holds from its committed offset again.
   * Nothing handed over before is committed after this; what was durable and not yet committed is
   * read again (idempotent sinks).
   */
  reset(): void {
    this.epoch++;
    this.parts.clear();
    this.ready.clear();
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  /** One commit at a time, of every partition that became durable meanwhile. */
  private kick(): void {
    this.wake();
    if (this.committing || this.ready.size === 0) return;
    const offsets = [...this.ready]
      .filter(([partition]) => this.o.owns(partition))
      .map(([partition, offset]) => ({ partition, offset }));
    this.ready.clear();
    if (offsets.length === 0) return;
    this.committing = this.o
      .commit(offsets)
      .catch((e: unknown) => this.o.commitFailed(e))
      .finally(() => {
        this.committing = undefined;
        this.kick();
      });
  }
}
