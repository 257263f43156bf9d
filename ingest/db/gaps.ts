// Seq gaps are derived from the stored seqs, never kept as separate state: a backlog fix that
// fills a gap makes it disappear by the same insert that stores the fix. (gap-cache.ts avoids
// rescanning every seq on each look.) Seqs the cloud refused are told apart from the ones still
// expected (rejected.ts).

import type { Fix } from '../../shared/fix.js';
import { GapCache, type SeqRange, type SeqSource } from './gap-cache.js';
import { type LastRejectedRow, RejectedCache, type RejectedSource, splitRejected } from './rejected.js';
import { type Fleet, type LastRejected, MAX_GAPS_LISTED, type SeqGap, splitGap } from './store.js';

/**
 * SQL (same text for SQLite and PostgreSQL; `$1` is the device id, `$2` the highest seq to look
 * at) listing the missing ranges from_seq..to_seq of one device. A virtual seq 0 makes a missing
 * start (1..first-1) a gap too.
 */
export const GAP_SQL = `SELECT seq + 1 AS from_seq, next_seq - 1 AS to_seq FROM (
  SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS next_seq
  FROM (SELECT 0 AS seq UNION ALL SELECT seq FROM fixes WHERE device_id = $1 AND seq <= $2) s
) t WHERE next_seq > seq + 1 ORDER BY seq`;

/**
 * The devices the gap gauges look at: those whose counters say some seq is not stored, and those
 * with seqs the cloud rejected (above their highest stored seq, or with none stored at all: a
 * receiver whose every fix was refused is counted too, with zeros for what it lacks).
 */
export const GAP_DEVICES_SQL = `SELECT device_id, dropped_through, max_seq, fix_count FROM devices WHERE max_seq > fix_count
UNION
SELECT r.device_id, COALESCE(d.dropped_through, 0), COALESCE(d.max_seq, 0), COALESCE(d.fix_count, 0)
  FROM rejected_devices r LEFT JOIN devices d ON d.device_id = r.device_id
ORDER BY device_id`;

export const SEQS_BETWEEN_SQL =
  'SELECT seq FROM fixes WHERE device_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq';

export const toRanges = (rows: { from_seq: number | string; to_seq: number | string }[]): SeqRange[] =>
  rows.map((r) => [Number(r.from_seq), Number(r.to_seq)]);

export interface GapSummary {
  gaps: SeqGap[];
  missing: number;
  lost: number;
  rejected: number;
}

/**
 * Splits the missing ranges into the seqs the cloud rejected, then the rest at droppedThrough
 * (lost for good below it, still expected above), and counts them; lists at most MAX_GAPS_LISTED
 * ranges. A seq both rejected and below droppedThrough is rejected: the cloud did receive it.
 */
export function summarizeGaps(
  ranges: SeqRange[],
  droppedThrough: number,
  rejected: readonly SeqRange[] = [],
): GapSummary {
  const out: GapSummary = { gaps: [], missing: 0, lost: 0, rejected: 0 };
  const list = (g: SeqGap) => {
    const n = g.to - g.from + 1;
    if (g.rejected) out.rejected += n;
    else if (g.lost) out.lost += n;
    else out.missing += n;
    if (out.gaps.length < MAX_GAPS_LISTED) out.gaps.push(g);
  };
  for (const [from, to] of ranges) {
    for (const part of splitRejected(from, to, rejected)) {
      if (part.rejected) list({ from: part.from, to: part.to, lost: false, rejected: true });
      else for (const g of splitGap(part.from, part.to, droppedThrough)) list(g);
    }
  }
  return out;
}

/** A device's counters from the devices row, which say whether it has gaps at all. */
export interface DeviceCounters {
  deviceId: string;
  maxSeq: number;
  fixCount: number;
  droppedThrough: number;
}

/** A row of GAP_DEVICES_SQL (PostgreSQL gives its bigints as strings). */
export interface GapDeviceRow {
  device_id: string;
  dropped_through: number | string;
  max_seq: number | string;
  fix_count: number | string;
}

export const gapDeviceCounters = (r: GapDeviceRow): DeviceCounters => ({
  deviceId: r.device_id,
  maxSeq: Number(r.max_seq),
  fixCount: Number(r.fix_count),
  droppedThrough: Number(r.dropped_through),
});

const lastRejectedOf = (r: LastRejectedRow): LastRejected => ({
  seq: Number(r.seq),
  reason: r.reason,
  atMs: Number(r.rejected_at),
});

/** A device as a store reads it from its devices table: counters, last fix, when last seen. */
export interface StoredDevice extends DeviceCounters {
  lastFix: Fix;
  lastSeenMs: number;
}

const NOTHING_STORED = { maxSeq: 0, fixCount: 0, droppedThrough: 0 } as const;

/** The gap report both stores give: their seq and rejected sources, the caches over them. */
export class GapReport {
  private readonly gapCache = new GapCache();
  private readonly rejectedCache = new RejectedCache();

  constructor(
    private readonly seqs: SeqSource,
    private readonly rejected: RejectedSource,
  ) {}

  /**
   * Gaps of each device, in the order given (one read of the rejected counts for all). A seq
   * the cloud rejected above the highest stored one counts as received, as a stored one does:
   * the seqs up to it are gaps too (rejected, or missing between).
   */
  async of(devices: readonly DeviceCounters[]): Promise<GapSummary[]> {
    await this.rejectedCache.refresh(this.rejected);
    const out: GapSummary[] = [];
    for (const d of devices) {
      let ranges = await this.gapCache.ranges(this.seqs, d.deviceId, d.maxSeq, d.fixCount);
      const top = this.rejectedCache.top(d.deviceId);
      if (top > d.maxSeq) ranges = [...ranges, [d.maxSeq + 1, top]];
      out.push(summarizeGaps(ranges, d.droppedThrough, this.rejectedCache.ranges(d.deviceId)));
    }
    return out;
  }

  /**
   * The devices list both stores give: each stored device with its gaps and newest refusal
   * (LAST_REJECTED_SQL's rows), then the devices known only from refusals. Nothing of those is
   * stored, so every seq up to the highest refused one is a gap (refused, or missing between).
   * Which devices are stored is told by `devices` itself, so each device is in one list.
   */
  async fleet(devices: readonly StoredDevice[], refusals: readonly LastRejectedRow[]): Promise<Fleet> {
    const last = new Map(refusals.map((r) => [r.device_id, lastRejectedOf(r)]));
    const storedIds = new Set(devices.map((d) => d.deviceId));
    const refusedOnly = [...last.keys()].filter((id) => !storedIds.has(id));
    const gaps = await this.of([
      ...devices,
      ...refusedOnly.map((deviceId) => ({ deviceId, ...NOTHING_STORED })),
    ]);
    return {
      stored: devices.map((d, i) => ({ ...d, ...gaps[i]!, lastRejected: last.get(d.deviceId) })),
      refused: refusedOnly.map((deviceId, i) => ({
        deviceId,
        ...NOTHING_STORED,
        lastRejected: last.get(deviceId)!,
        ...gaps[devices.length + i]!,
      })),
    };
  }

  /** Totals for the gap gauges over the devices given (GAP_DEVICES_SQL: with gaps or rejected seqs). */
  async totals(
    devices: readonly DeviceCounters[],
  ): Promise<{ missing: number; lost: number; rejected: number }> {
    const t = { missing: 0, lost: 0, rejected: 0 };
    for (const g of await this.of(devices)) {
      t.missing += g.missing;
      t.lost += g.lost;
      t.rejected += g.rejected;
    }
    return t;
  }
}
