// The trips transaction, written once against a narrow interface both backends implement.
//
// Idempotence and order: each device has a state (trip_state): the cursor (last seq and time
// folded in, last position, jitter anchor) and the set of seqs already folded in (as ranges).
//   - a fix in that set is a redelivery: skipped;
//   - a fix newer than the cursor in both seq and GNSS time (the common case) extends the day rows;
//   - anything else is an out-of-order backlog fix: the device's days are rebuilt from the stored
//     fixes, from that fix's day on, which gives the numbers of an in-order run (rebuild.ts; it
//     continues from a checkpoint of an earlier rebuild when it can, with the same result).
// The fixes themselves are inserted (idempotently) in the same transaction, so a rebuild never
// depends on the fix-store group having caught up.
import type { Fix } from '../../shared/fix.js';
import { noTripWork, type TripApplyResult } from '../db/store.js';
import { accumulate, type TripCursor, type TripDay, utcDay } from './accumulate.js';
import { carryCheckpoints } from './carry.js';
import type { Checkpoints } from './checkpoints.js';
import { addSeqs, hasSeq, type SeqRanges } from './ranges.js';
import { rebuildFrom } from './rebuild.js';

export interface TripState {
  cursor: TripCursor;
  /** Seqs already folded in. */
  applied: SeqRanges;
}

export interface TripTx {
  insertFixes(fixes: readonly Fix[]): Promise<number>;
  getState(deviceId: string): Promise<TripState | null>;
  putState(deviceId: string, s: TripState): Promise<void>;
  getDays(deviceId: string, days: string[]): Promise<TripDay[]>;
  /** Insert or replace the rows. */
  putDays(rows: TripDay[]): Promise<void>;
  deleteDaysFrom(deviceId: string, day: string): Promise<void>;
  /** Stored fixes with time >= fromMs, ordered by time then seq. */
  fixesFrom(deviceId: string, fromMs: number): Promise<Fix[]>;
  /** The stored fix with the greatest time < ms. */
  lastFixBefore(deviceId: string, ms: number): Promise<Fix | null>;
  /**
   * As fixesFrom, plus how many stored fixes of the device have time < fromMs, both read in one
   * snapshot (one statement): a checkpoint holds while that count is unchanged.
   */
  fixesFromCounted(deviceId: string, fromMs: number): Promise<{ fixes: Fix[]; before: number }>;
  /** This database's checkpoints (checkpoints.ts); unset: every rebuild starts at 00:00. */
  checkpoints?: Checkpoints | undefined;
}

const byTime = (a: Fix, b: Fix) => a.time - b.time || a.seq - b.seq;

export async function applyTripsTx(tx: TripTx, fixes: readonly Fix[]): Promise<TripApplyResult> {
  const result = noTripWork();
  if (fixes.length === 0) return result;
  result.inserted = await tx.insertFixes(fixes);
  const perDevice = new Map<string, Fix[]>();
  for (const f of fixes) {
    const list = perDevice.get(f.deviceId);
    if (list) list.push(f);
    else perDevice.set(f.deviceId, [f]);
  }
  // Sorted so that concurrent transactions touch device rows in the same order (no deadlocks).
  for (const deviceId of [...perDevice.keys()].sort()) {
    const list = perDevice.get(deviceId)!.sort(byTime);
    const state = await tx.getState(deviceId);
    const cursor = state?.cursor ?? null;
    const applied = state?.applied ?? [];
    const fresh: Fix[] = [];
    let lateFrom = Number.POSITIVE_INFINITY;
    let lateTo = Number.NEGATIVE_INFINITY;
    let lastSeq = cursor?.lastSeq ?? 0;
    let lastTime = cursor?.lastTime ?? Number.NEGATIVE_INFINITY;
    const seen = new Set<number>();
    for (const f of list) {
      if (hasSeq(applied, f.seq) || seen.has(f.seq)) {
        result.skipped++;
        continue;
      }
      seen.add(f.seq);
      if (f.seq > lastSeq && f.time > lastTime) {
        fresh.push(f);
        lastSeq = f.seq;
        lastTime = f.time;
      } else {
        lateFrom = Math.min(lateFrom, f.time);
        lateTo = Math.max(lateTo, f.time);
      }
    }
    if (lateFrom !== Number.POSITIVE_INFINITY) {
      // Fresh fixes of this batch are folded in by the rebuild too (they are stored by now).
      for (const f of fresh) lateFrom = Math.min(lateFrom, f.time);
      const rebuilt = await rebuildFrom(
        tx,
        deviceId,
        utcDay(lateFrom),
        { from: lateFrom, to: lateTo },
        state,
      );
      result.recomputedDays += rebuilt.days;
      result.rebuildReads += rebuilt.reads;
      if (rebuilt.resumed) result.resumedRebuilds++;
      continue;
    }
    if (fresh.length === 0) continue;
    const days = new Map<string, TripDay>();
    for (const row of await tx.getDays(deviceId, [...new Set(fresh.map((f) => utcDay(f.time)))])) {
      days.set(row.day, row);
    }
    const lastTimeBefore = cursor?.lastTime ?? null; // accumulate moves the cursor on
    const next = accumulate(deviceId, cursor, fresh, days);
    await tx.putDays([...days.values()]);
    if (next) await tx.putState(deviceId, { cursor: next, applied: addSeqs(applied, seen) });
    result.applied += fresh.length;
    result.rebuildReads += await carryCheckpoints(tx, deviceId, lastTimeBefore, fresh);
  }
  return result;
}
