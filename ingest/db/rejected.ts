// Seqs the cloud received and refused (dead-lettered): a fix dated in the future, a latitude of
// 95, a fix the database would not take. Without a record of them, each would be a gap in the
// device's seqs that never fills, shown as "pending" forever, and ops would look for data lost in
// transit that was in fact refused. The fix-store group records them (rejected_seqs) in the
// same transaction as a per-device count (rejected_devices); the gap report then tells these
// seqs apart from the ones still expected.
//
// The cache keeps each device's rejected seqs as merged ranges and reloads a device only when its
// count changed, so a look costs one read of rejected_devices (a row per device that ever had a
// seq rejected), not a scan of rejected_seqs.
import type { SeqRange } from './gap-cache.js';

/** A seq the cloud refused, and why (the dead-letter reason). */
export interface RejectedSeq {
  deviceId: string;
  seq: number;
  reason: string;
}

/** Longest reason kept in rejected_seqs (the full one is in the dead-letter record's header). */
export const MAX_REASON_CHARS = 500;

export interface RejectedSource {
  /** Per device: how many seqs rejected_seqs holds (rejected_devices). */
  counts(): Promise<Map<string, number>>;
  /** The device's rejected seqs, ascending. */
  seqs(deviceId: string): Promise<number[]>;
}

/** Ascending seqs as merged ranges. */
export function toSeqRanges(seqs: readonly number[]): SeqRange[] {
  const out: SeqRange[] = [];
  for (const s of seqs) {
    const last = out[out.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], s);
    else out.push([s, s]);
  }
  return out;
}

/** Per device, how many of the rows were new (for rejected_devices), device ids sorted. */
export function countByDevice(inserted: readonly { deviceId: string }[]): [string, number][] {
  const n = new Map<string, number>();
  for (const r of inserted) n.set(r.deviceId, (n.get(r.deviceId) ?? 0) + 1);
  // Sorted: two transactions upserting the same devices lock their rows in the same order.
  return [...n].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export class RejectedCache {
  private readonly entries = new Map<string, { count: number; ranges: SeqRange[] }>();

  /** Devices with rejected seqs, as of the last refresh. */
  devices(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** The device's highest rejected seq (0 when none). */
  top(deviceId: string): number {
    const r = this.entries.get(deviceId)?.ranges;
    return r && r.length > 0 ? r[r.length - 1]![1] : 0;
  }

  /** Reloads the devices whose count changed since the last refresh. */
  async refresh(src: RejectedSource): Promise<void> {
    const counts = await src.counts();
    for (const [deviceId, count] of counts) {
      if (this.entries.get(deviceId)?.count === count) continue;
      this.entries.set(deviceId, { count, ranges: toSeqRanges(await src.seqs(deviceId)) });
    }
  }

  /** The device's rejected seqs as of the last refresh, as ascending ranges. */
  ranges(deviceId: string): SeqRange[] {
    return this.entries.get(deviceId)?.ranges ?? [];
  }
}

/** Index of the first range whose end is >= seq (ranges ascending and apart), or length. */
function firstEndingFrom(ranges: readonly SeqRange[], seq: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]![1] < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Splits a missing range [from, to] into its rejected parts and the rest, in order. */
export function splitRejected(
  from: number,
  to: number,
  rejected: readonly SeqRange[],
): { from: number; to: number; rejected: boolean }[] {
  const out: { from: number; to: number; rejected: boolean }[] = [];
  let at = from;
  // From the first range that ends at or after `from`: a device with 50,000 separate rejected
  // seqs has as many gaps, and scanning from the start for each took seconds a look.
  for (let i = firstEndingFrom(rejected, from); i < rejected.length; i++) {
    const [a, b] = rejected[i]!;
    if (a > to) break;
    if (a > at) out.push({ from: at, to: a - 1, rejected: false });
    const end = Math.min(b, to);
    out.push({ from: Math.max(a, at), to: end, rejected: true });
    at = end + 1;
    if (at > to) break;
  }
  if (at <= to) out.push({ from: at, to, rejected: false });
  return out;
}

// SQL both dialects take ($n placeholders; SQLite's prepare swaps them for ?).
export const REJECTED_COUNTS_SQL = 'SELECT device_id, seqs FROM rejected_devices';
export const REJECTED_SEQS_SQL = 'SELECT seq FROM rejected_seqs WHERE device_id = $1 ORDER BY seq';
/**
 * Each device's highest refused seq with its reason and time: an index seek per device that ever
 * had a seq refused, never a scan of its seqs.
 */
export const LAST_REJECTED_SQL = `SELECT r.device_id, s.seq, s.reason, s.rejected_at
FROM rejected_devices r
JOIN rejected_seqs s ON s.device_id = r.device_id
  AND s.seq = (SELECT max(m.seq) FROM rejected_seqs m WHERE m.device_id = r.device_id)
ORDER BY r.device_id`;

/** A row of LAST_REJECTED_SQL (PostgreSQL gives its bigints as strings). */
export interface LastRejectedRow {
  device_id: string;
  seq: number | string;
  reason: string;
  rejected_at: number | string;
}
export const ADD_REJECTED_COUNT_SQL = `INSERT INTO rejected_devices (device_id, seqs) VALUES ($1, $2)
  ON CONFLICT (device_id) DO UPDATE SET seqs = rejected_devices.seqs + excluded.seqs`;

/** The reason as stored: bounded, so a pathological reason cannot bloat the table. */
export const storedReason = (reason: string): string =>
  reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason;
