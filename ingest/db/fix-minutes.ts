// SQLite's time index over fixes: per device and minute, the lowest and highest seq of the
// fixes whose time falls in that minute (table fix_minutes, migration 4).
//
// Why not an index on (device_id, time): SQLite keeps a secondary index row per fix, and that
// insert was a third of the store's cost a fix (1.4 of 4.4 us, bench/ingest.ts's write path:
// 206k fixes/s with it, 300k without). A device sends one fix a second, so a minute holds ~60 of
// them and one fix-minutes row stands for all of them, written once per device and minute a batch
// touches (~400 upserts for a 20,000-fix batch of 200 riders): the idea of PostgreSQL's BRIN
// index, per device.
//
// Reading: the fixes of minute m of a device are the rows of its (device_id, seq) primary key in
// [min_seq, max_seq] whose time is in m. Seqs normally rise with time, so that range holds just
// that minute's fixes; when they do not (a receiver whose clock jumped), it holds others too,
// which the time condition drops: the answer is always exact, only the rows read grow. Every fix
// is found through its own minute only, so none comes twice, and walking the minutes in order
// gives the fixes in time order, which lets LIMIT stop early.
//
// PostgreSQL keeps its B-tree index on (device_id, time): it writes its batches with COPY or
// unnest, where the index costs relatively less, and that path already meets its goal.
import type { Fix } from '../../shared/fix.js';

export const MINUTE_MS = 60_000;

export const minuteOf = (timeMs: number): number => Math.floor(timeMs / MINUTE_MS);

/** The seq range of one device's fixes in one minute. */
export interface MinuteSpan {
  deviceId: string;
  minute: number;
  minSeq: number;
  maxSeq: number;
}

/** The spans of a batch of fixes; the fast path expects them grouped by device (sortedFixes). */
export function minuteSpans(fixes: Iterable<Fix>): MinuteSpan[] {
  const byDevice = new Map<string, Map<number, MinuteSpan>>();
  const out: MinuteSpan[] = [];
  let last: MinuteSpan | undefined;
  for (const f of fixes) {
    const minute = minuteOf(f.time);
    let s = last !== undefined && last.deviceId === f.deviceId && last.minute === minute ? last : undefined;
    if (!s) {
      let minutes = byDevice.get(f.deviceId);
      if (!minutes) {
        minutes = new Map();
        byDevice.set(f.deviceId, minutes);
      }
      s = minutes.get(minute);
      if (!s) {
        s = { deviceId: f.deviceId, minute, minSeq: f.seq, maxSeq: f.seq };
        minutes.set(minute, s);
        out.push(s);
      }
      last = s;
    }
    if (f.seq < s.minSeq) s.minSeq = f.seq;
    if (f.seq > s.maxSeq) s.maxSeq = f.seq;
  }
  return out;
}

export const UPSERT_MINUTE_SQL = `INSERT INTO fix_minutes (device_id, minute, min_seq, max_seq) VALUES (?, ?, ?, ?)
  ON CONFLICT (device_id, minute) DO UPDATE SET
    min_seq = min(min_seq, excluded.min_seq), max_seq = max(max_seq, excluded.max_seq)`;

// The minutes are the outer loop (CROSS JOIN keeps SQLite from turning it round), so the rows come
// ordered by minute and SQLite sorts only within a minute ("TEMP B-TREE FOR RIGHT PART OF ORDER
// BY"), stopping at LIMIT. Parameters: device, first minute, last minute, then the query's own.
const MINUTE_JOIN = `FROM fix_minutes m CROSS JOIN fixes f
  ON f.device_id = m.device_id AND f.seq >= m.min_seq AND f.seq <= m.max_seq
    AND f.time >= m.minute * ${MINUTE_MS} AND f.time < (m.minute + 1) * ${MINUTE_MS}
  WHERE m.device_id = ? AND m.minute >= ? AND m.minute <= ?`;

/** (device, minute of from, minute of to - 1, from, to, limit): fixes with from <= time < to. */
export const TRACK_SQL = `SELECT f.* ${MINUTE_JOIN} AND f.time >= ? AND f.time < ?
  ORDER BY m.minute, f.time, f.seq LIMIT ?`;

/** (device, minute of from, max minute, from): fixes with time >= from. */
export const FIXES_FROM_SQL = `SELECT f.* ${MINUTE_JOIN} AND f.time >= ? ORDER BY m.minute, f.time, f.seq`;

/** (device, 0, minute of ms - 1, ms): the latest fix with time < ms. */
export const LAST_FIX_BEFORE_SQL = `SELECT f.* ${MINUTE_JOIN} AND f.time < ?
  ORDER BY m.minute DESC, f.time DESC, f.seq DESC LIMIT 1`;

/** Beyond any minute a valid fix can have (fixvalidate.ts bounds time), as a bound of a range. */
export const LAST_MINUTE = Number.MAX_SAFE_INTEGER;
