// A consumer's steady rate from its flushes, with its warm-up left out.
//
// Why not (fixes / time from the join to the last fix): the first second or so of a consumer
// process is its warm-up (code not yet optimized, the heap still growing), and it weighs on a short
// run. On 2026-12-07's machine one INSERT per fix cost 520-710 us of
// CPU a fix over a run's first 3,000 fixes and 130-156 over 12,000; the batched writer ran at
// ~85k fixes/s in its first 0.7 s, and at 100-133k over 200,000 fixes against 119-164k over a
// million. A service runs for days, so both sides are measured past their warm-up, the same way.
// And why not time it by polling a counter: a poll on the consumer's thread waits for the flushes
// written meanwhile (until 2026-12-07 a synchronous sink gave it no turn at all while a fetched
// batch was written fix by fix; now one every ~10 ms, consumer/flush-buffer.ts), so it sees the
// end late. The flushes' own start times (received_at in the database, or the counting sink's
// clock) say when each one was written.

/** One flush: when it started (ms) and how many fixes it wrote. */
export interface Flush {
  at: number;
  rows: number;
}

/** The share of a run's fixes that is its warm-up, not counted. */
export const WARMUP_SHARE = 0.25;

/**
 * Fixes per second over the flushes after the first `warmup` share of the fixes: from the start
 * of the first flush past it to the start of the last flush, counting the fixes of the flushes in
 * between (the last flush's own time is not in the window, so neither are its fixes). Flushes
 * that started in the same millisecond count as one. Throws when fewer than two distinct starts
 * are left to measure between: the run is too short.
 */
export function steadyRate(flushes: readonly Flush[], warmup = WARMUP_SHARE): number {
  const byMs = new Map<number, number>();
  for (const f of flushes) byMs.set(f.at, (byMs.get(f.at) ?? 0) + f.rows);
  const starts = [...byMs.entries()].sort((a, b) => a[0] - b[0]);
  const total = starts.reduce((n, [, rows]) => n + rows, 0);
  let before = 0;
  let first = 0;
  while (first < starts.length && before < warmup * total) before += starts[first++]![1];
  const last = starts.length - 1;
  if (last - first < 1) {
    throw new Error(
      `${starts.length} flush starts, ${total} fixes: too few past the warm-up to measure a rate`,
    );
  }
  let rows = 0;
  for (let i = first; i < last; i++) rows += starts[i]![1];
  return Math.round(rows / ((starts[last]![0] - starts[first]![0]) / 1000));
}
