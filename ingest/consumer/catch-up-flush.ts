// When a consumer is behind, its flush should not wait for the flush timer: for a group whose
// batches wait for their flush (one that commits on a timer, the live view's). The store groups
// hand their batches over and fetch on (durable-commits.ts), so their flush timer stalls nothing.
//
// kafkajs fetches again only after every batch of the last fetch has been handled, and each batch
// is handled until the flush holding its fixes is durable (kafkajs runs at most
// partitionsConsumedConcurrently at once; the others queue until one is done). So once every batch
// in hand has added its fixes to the flush buffer, nothing more can join the pending flush before
// it is written: waiting for INGEST_FLUSH_MS then only stalls the consumer. Measured
// (bench/ingest-e2e.ts, 50 ms timer, 1 MiB fetches, 400,000 fixes), the stall at the end of each
// fetch cost 15-20% of a catch-up's rate into SQLite, more with smaller fetches; the 250 ms
// default costs more still.
//
// The timer stays where it does its job: when none of those batches' partitions has more records
// at the broker (caught up, steady traffic), the wait is what lets the next fetch gather that much
// traffic into one transaction. When one of them has (a backlog, a restart, a rebalance), the next
// fetch returns at once anyway, so the pending flush is cut as soon as the batches in hand have all
// added their fixes.

/** One batch's part: added() once its fixes are in the buffer, leave() when it is done. */
export interface CatchUpSlot {
  /** `behind`: its partition's high watermark is past the batch's last offset. */
  added(behind: boolean): void;
  leave(): void;
}

export class CatchUpFlush {
  /** Batches in hand that have not yet added their fixes to the buffer. */
  private adding = 0;
  /** Batches in hand that have, and whose partition has more at the broker. */
  private behind = 0;
  private scheduled = false;
  /** Stopping: nothing is gained by waiting either. */
  private draining = false;

  /** `flush`: cut what is pending now (FlushBuffer.flushNow). */
  constructor(private readonly flush: () => void) {}

  /** A batch is being handled; its slot's leave() belongs in a finally. */
  enter(): CatchUpSlot {
    this.adding++;
    let state: 'adding' | 'added' | 'left' = 'adding';
    let behind = false;
    return {
      added: (b) => {
        if (state !== 'adding') return;
        state = 'added';
        this.adding--;
        behind = b;
        if (b) this.behind++;
        this.check();
      },
      leave: () => {
        if (state === 'adding') this.adding--;
        else if (state === 'added' && behind) this.behind--;
        if (state !== 'left') this.check();
        state = 'left';
      },
    };
  }

  /**
   * The consumer is stopping: from now on flush as soon as the batches in hand have added their
   * fixes, behind or not, so that the stop (which waits for them) does not wait for the timer.
   */
  drain(): void {
    this.draining = true;
    this.check();
  }

  // On the next turn of the event loop, not now: kafkajs starts the batches of a fetch one after
  // another through promise callbacks, so a batch that has added its fixes may be the first of
  // several about to join the same flush. By setImmediate they all have.
  private check(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if ((this.behind > 0 || this.draining) && this.adding === 0) this.flush();
    });
  }
}
