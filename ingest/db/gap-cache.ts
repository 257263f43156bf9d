// Seq gaps per device without rescanning every stored seq on each /api/devices poll.
//
// The first look at a device scans its seqs once (GAP_SQL). After that only what changed is
// read: the stored seqs inside the known gaps (backlog filling them) and the seqs above the last
// known max (new gaps). Both are index range scans over few rows. The devices row's counters say
// how many seqs are missing in total; when the incremental answer disagrees (a write landed
// between the two reads) the device is scanned in full again, so the answer stays exact.

export type SeqRange = [from: number, to: number];

export interface SeqSource {
  /** Missing ranges of the device within 1..maxSeq, oldest first (full scan). */
  allGaps(deviceId: string, maxSeq: number): Promise<SeqRange[]>;
  /** Stored seqs of the device in from..to, ascending. */
  seqsBetween(deviceId: string, from: number, to: number): Promise<number[]>;
}

interface Entry {
  maxSeq: number;
  fixCount: number;
  ranges: SeqRange[];
}

const total = (ranges: SeqRange[]) => ranges.reduce((n, [a, b]) => n + b - a + 1, 0);

/** Splits [a, b] around the stored seqs inside it (ascending). */
function without(a: number, b: number, stored: number[]): SeqRange[] {
  const out: SeqRange[] = [];
  let from = a;
  for (const s of stored) {
    if (s > from) out.push([from, s - 1]);
    from = s + 1;
  }
  if (from <= b) out.push([from, b]);
  return out;
}

export class GapCache {
  private readonly entries = new Map<string, Entry>();

  /** Missing ranges of a device whose devices row says maxSeq and fixCount. */
  async ranges(src: SeqSource, deviceId: string, maxSeq: number, fixCount: number): Promise<SeqRange[]> {
    const missing = maxSeq - fixCount;
    const cached = this.entries.get(deviceId);
    let ranges: SeqRange[] | undefined;
    if (missing <= 0) {
      ranges = [];
    } else if (cached && cached.maxSeq === maxSeq && cached.fixCount === fixCount) {
      ranges = cached.ranges;
    } else if (cached && cached.maxSeq <= maxSeq) {
      ranges = [];
      for (const [a, b] of cached.ranges) {
        ranges.push(...without(a, b, await src.seqsBetween(deviceId, a, b)));
      }
      if (maxSeq > cached.maxSeq) {
        ranges.push(
          ...without(cached.maxSeq + 1, maxSeq, await src.seqsBetween(deviceId, cached.maxSeq + 1, maxSeq)),
        );
      }
      if (total(ranges) !== missing) ranges = undefined;
    }
    ranges ??= await src.allGaps(deviceId, maxSeq);
    // Cache only an answer that agrees with the counters; a racing write is settled next time.
    if (total(ranges) === missing) this.entries.set(deviceId, { maxSeq, fixCount, ranges });
    else this.entries.delete(deviceId);
    return ranges;
  }
}
