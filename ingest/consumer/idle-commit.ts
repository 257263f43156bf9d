// With offsets committed at most every commitIntervalMs (the live group), kafkajs commits only
// when a batch comes after the interval: the offsets of the last batches before traffic stops
// stayed uncommitted until the next fix, and the group's lag showed that many fixes all night
// (10,000 riders parking at once: a lag of up to 10,000 on the dashboard, for a group that had
// read everything). After each batch this arms a timer that asks kafkajs once more, when the
// interval has passed; a batch before then re-arms it.

type Commit = () => Promise<void>;

export class IdleCommit {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {}

  /** `commit`: the batch's commitOffsetsIfNecessary (commits what is resolved once the interval passed). */
  arm(commit: Commit): void {
    this.cancel();
    // A little past the interval, so kafkajs finds it passed. Best effort: a commit that fails
    // (a rebalance under way, the consumer stopping) leaves the offsets to the next batch or to
    // the commit kafkajs makes when it leaves the group.
    this.timer = setTimeout(() => void commit().catch(() => undefined), this.intervalMs + 100);
    this.timer.unref();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
