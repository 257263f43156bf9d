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

/**
 * Above this many known gaps, what filled them is read in one query over their whole span instead
 * of one query a gap: a device with every other fix refused has tens of thousands of gaps, and a
 * query each (a round trip each on PostgreSQL) cost seconds a look.
 */
const ONE_QUERY_FROM_GAPS = 16;

/** The known gaps minus the seqs stored in them since. */
async function refill(src: SeqSource, deviceId: string, gaps: readonly SeqRange[]): Promise<SeqRange[]> {
  const out: SeqRange[] = [];
  if (gaps.length <= ONE_QUERY_FROM_GAPS) {
    for (const [a, b] of gaps) out.push(...without(a, b, await src.seqsBetween(deviceId, a, b)));
    return out;
  }
  const stored = await src.seqsBetween(deviceId, gaps[0]![0], gaps[gaps.length - 1]![1]);
  let i = 0;
  for (const [a, b] of gaps) {
    while (i < stored.length && stored[i]! < a) i++;
    const inside: number[] = [];
    while (i < stored.length && stored[i]! <= b) inside.push(stored[i++]!);
    if (inside.length === 0) out.push([a, b]);
    else out.push(...without(a, b, inside));
  }
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
      ranges = await refill(src, deviceId, cached.ranges);
      if (maxSeq > cached.maxSeq) {
        const above = await src.seqsBetween(deviceId, cached.maxSeq + 1, maxSeq);
        // A loop, not push(...): a backlog can open tens of thousands of gaps at once.
        for (const r of without(cached.maxSeq + 1, maxSeq, above)) ranges.push(r);
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
