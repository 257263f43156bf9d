// Seq gaps are derived from the stored seqs, never kept as separate state: a backlog fix that
// fills a gap makes it disappear by the same insert that stores the fix. (gap-cache.ts avoids
// rescanning every seq on each look.)
import type { SeqRange } from './gap-cache.js';
import { MAX_GAPS_LISTED, type SeqGap, splitGap } from './store.js';

/**
 * SQL (same text for SQLite and PostgreSQL; `$1` is the device id, `$2` the highest seq to look
 * at) listing the missing ranges from_seq..to_seq of one device. A virtual seq 0 makes a missing
 * start (1..first-1) a gap too.
 */
export const GAP_SQL = `SELECT seq + 1 AS from_seq, next_seq - 1 AS to_seq FROM (
  SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS next_seq
  FROM (SELECT 0 AS seq UNION ALL SELECT seq FROM fixes WHERE device_id = $1 AND seq <= $2) s
) t WHERE next_seq > seq + 1 ORDER BY seq`;

export const SEQS_BETWEEN_SQL =
  'SELECT seq FROM fixes WHERE device_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq';

export const toRanges = (rows: { from_seq: number | string; to_seq: number | string }[]): SeqRange[] =>
  rows.map((r) => [Number(r.from_seq), Number(r.to_seq)]);

export interface GapSummary {
  gaps: SeqGap[];
  missing: number;
  lost: number;
}

/** Splits the ranges at droppedThrough and counts them; lists at most MAX_GAPS_LISTED ranges. */
export function summarizeGaps(ranges: SeqRange[], droppedThrough: number): GapSummary {
  const out: GapSummary = { gaps: [], missing: 0, lost: 0 };
  for (const [from, to] of ranges) {
    for (const g of splitGap(from, to, droppedThrough)) {
      if (g.lost) out.lost += g.to - g.from + 1;
      else out.missing += g.to - g.from + 1;
      if (out.gaps.length < MAX_GAPS_LISTED) out.gaps.push(g);
    }
  }
  return out;
}
