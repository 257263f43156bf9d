// Sets of seqs as sorted, merged, inclusive ranges: which fixes the trips group already folded in.
// A device's fixes arrive mostly in order, so the set is one range plus one per gap.

export type SeqRanges = [number, number][];

/** Kept per device; beyond it the oldest ranges are merged (see trips/README.md). */
export const MAX_RANGES = 1000;

export function hasSeq(r: SeqRanges, seq: number): boolean {
  let lo = 0;
  let hi = r.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = r[mid]!;
    if (seq < a) hi = mid - 1;
    else if (seq > b) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Union of the ranges and the seqs (any order), merged, at most MAX_RANGES ranges. */
export function addSeqs(r: SeqRanges, seqs: Iterable<number>): SeqRanges {
  const sorted = [...seqs].sort((a, b) => a - b);
  const last = r[r.length - 1];
  let out: SeqRanges;
  if (sorted.length > 0 && (!last || sorted[0]! > last[1])) {
    // All after the last range (in-order fixes, the usual case): appended, nothing else copied.
    out = r.slice(0, -1);
    let cur: [number, number] | null = last ? [last[0], last[1]] : null;
    for (const s of sorted) {
      if (cur && s <= cur[1] + 1) cur[1] = Math.max(cur[1], s);
      else {
        if (cur) out.push(cur);
        cur = [s, s];
      }
    }
    out.push(cur!);
  } else {
    out = unionRanges(
      r,
      sorted.map((s): [number, number] => [s, s]),
    );
  }
  // Merging the oldest ranges marks the seqs between them as done: a fix that old arriving now
  // is ignored by trips (it is still stored by the fixes insert).
  while (out.length > MAX_RANGES) {
    const [first, second] = out;
    out.splice(0, 2, [first![0], second![1]]);
  }
  return out;
}

/**
 * unionRanges(r, [[a, b]]) for a run after every range of r (an in-order flush), without copying
 * and sorting it all. The ranges of r are shared, not copied: no range array is ever modified once
 * made (unionRanges only changes the ones it makes, before it returns them).
 */
export function appendRun(r: SeqRanges, a: number, b: number): SeqRanges {
  const last = r[r.length - 1];
  if (last && a <= last[1]) return unionRanges(r, [[a, b]]);
  const out = r.slice();
  if (last && a === last[1] + 1) out[out.length - 1] = [last[0], Math.max(last[1], b)];
  else out.push([a, b]);
  return out;
}

/** Union of range lists, merged, uncapped; new arrays, the inputs are left as they are. */
export function unionRanges(...lists: SeqRanges[]): SeqRanges {
  const all: SeqRanges = [];
  for (const l of lists) for (const [a, b] of l) all.push([a, b]);
  all.sort((x, y) => x[0] - y[0]);
  const out: SeqRanges = [];
  for (const [a, b] of all) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Whether every seq of `sub` is in `r` (both merged, as addSeqs and unionRanges return them). */
export function coversRanges(r: SeqRanges, sub: SeqRanges): boolean {
  return sub.every(([a, b]) => {
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [x, y] = r[mid]!;
      if (a < x) hi = mid - 1;
      else if (a > y) lo = mid + 1;
      else return b <= y;
    }
    return false;
  });
}

export function parseRanges(text: string | null | undefined): SeqRanges {
  if (!text) return [];
  const v = JSON.parse(text) as unknown;
  return Array.isArray(v) ? (v as SeqRanges) : [];
}
