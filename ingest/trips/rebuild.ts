// Rebuilding a device's days from the stored fixes, after an out-of-order (backlog) fix.
//
// Without checkpoints (tx.checkpoints unset) every rebuild starts at 00:00 of the earliest late
// fix's day. With them (checkpoints.ts) it continues from the latest state remembered before that
// fix, when the stored fixes before it are still the same; the day rows, cursor and applied seqs
// it writes are the ones a rebuild from 00:00 writes (test/trips-checkpoints.test.ts checks that
// against the rebuild from 00:00 and against an in-order run).
import type { Fix } from '../../shared/fix.js';
import { accumulate, dayStartMs, type TripCursor, type TripDay, utcDay } from './accumulate.js';
import type { StoredTripState, TripTx } from './apply.js';
import { anchorAt, type Folded, foldFrom, fromCheckpoint } from './fold.js';
import { addSeqs, coversRanges } from './ranges.js';
import { type CachedTrips, keep } from './state-cache.js';

export interface Rebuilt {
  /** Days rewritten (from `day` on). */
  days: number;
  /** Stored fixes read. */
  reads: number;
  /** Whether it continued from a checkpoint. */
  resumed: boolean;
  /** What it wrote, to keep in memory once committed (state-cache.ts): state and the cursor's day. */
  kept: CachedTrips | undefined;
}

/**
 * The batch's fixes that caused the rebuild: from the earliest one to fold in (its day is the
 * rebuilt day) to the latest late one (a backlog drained oldest first goes on right after it).
 */
export interface Late {
  from: number;
  to: number;
}

/**
 * Recomputes every day of the device from `day` on, from the stored fixes. Null: the stored state
 * is no longer `old` (a device with none got one meanwhile), nothing was written.
 */
export async function rebuildFrom(
  tx: TripTx,
  deviceId: string,
  day: string,
  late: Late,
  old: StoredTripState | null,
): Promise<Rebuilt | null> {
  const cps = tx.checkpoints;
  if (!cps) return rebuildFromDayStart(tx, deviceId, day, old);
  const cp = cps.latest(deviceId, day, late.from);
  if (cp) {
    const { fixes, before } = await tx.fixesFromCounted(deviceId, cp.boundary);
    // The count proves the stored fixes before the boundary the same; `applied` having all the
    // seqs the checkpoint folded proves its transaction committed (a rolled-back one may have
    // inserted a fix the count now counts in place of another one stored since).
    if (before === cp.before && coversRanges(old?.applied ?? [], cp.seqs)) {
      const folded = foldFrom(deviceId, day, fromCheckpoint(cp), fixes);
      // The older checkpoints of this day stand too: the fixes before them are unchanged as well.
      const kept = cps.holes(deviceId).filter((c) => c.day === day && c.boundary <= cp.boundary);
      cps.set(deviceId, [...kept, ...folded.holes], folded.end, late.to);
      const w = await writeRebuilt(tx, deviceId, day, old, folded.days, folded.cursor, fixes);
      return w && { days: folded.days.size, reads: fixes.length, resumed: true, kept: w.kept };
    }
    // Fixes before the boundary were stored since (by fix-store, say): start over at 00:00.
    cps.forget(deviceId);
  }
  const start = dayStartMs(day);
  const { fixes, before } = await tx.fixesFromCounted(deviceId, start);
  // Read after the counted fixes: if a fix before `start` was stored in between (PostgreSQL, READ
  // COMMITTED), the count is short and no checkpoint made here will ever match.
  const prev = await tx.lastFixBefore(deviceId, start);
  const folded: Folded = foldFrom(
    deviceId,
    day,
    { cursor: anchorAt(prev), rows: [], seqs: [], before },
    fixes,
  );
  cps.set(deviceId, folded.holes, folded.end, late.to);
  const w = await writeRebuilt(tx, deviceId, day, old, folded.days, folded.cursor, fixes);
  return w && { days: folded.days.size, reads: fixes.length, resumed: false, kept: w.kept };
}

/** The rebuild as it always was: everything from 00:00 of `day`. */
async function rebuildFromDayStart(
  tx: TripTx,
  deviceId: string,
  day: string,
  old: StoredTripState | null,
): Promise<Rebuilt | null> {
  const start = dayStartMs(day);
  const prev = await tx.lastFixBefore(deviceId, start);
  const fixes = await tx.fixesFrom(deviceId, start);
  const days = new Map<string, TripDay>();
  const next = accumulate(deviceId, anchorAt(prev), fixes, days);
  const w = await writeRebuilt(tx, deviceId, day, old, days, next, fixes);
  return w && { days: days.size, reads: fixes.length, resumed: false, kept: w.kept };
}

/**
 * Writes the rebuilt state, then the days (`next`, the fold's cursor, is modified); null when the
 * state write found another version than `old`'s, before anything was written.
 */
async function writeRebuilt(
  tx: TripTx,
  deviceId: string,
  day: string,
  old: StoredTripState | null,
  days: Map<string, TripDay>,
  next: TripCursor | null,
  fixes: Fix[],
): Promise<{ kept: CachedTrips | undefined } | null> {
  let kept: CachedTrips | undefined;
  if (next) {
    // lastSeq must never go back, or an old redelivery would look fresh.
    next.lastSeq = Math.max(next.lastSeq, old?.cursor.lastSeq ?? 0);
    // Every stored fix read here is now folded in, including ones the fix-store group stored
    // before trips saw them: when they arrive they are skipped, not rebuilt again. (Those before a
    // checkpoint are in `applied` already: it is used only then.)
    const state = {
      cursor: next,
      applied: addSeqs(
        old?.applied ?? [],
        fixes.map((f) => f.seq),
      ),
    };
    const version = old?.version ?? null;
    if ((await tx.putStates([{ deviceId, state, version }])).size > 0) return null;
    const current = days.get(utcDay(next.lastTime));
    kept = keep(state, (version ?? 0) + 1, current ? [current] : []);
  }
  await tx.deleteDaysFrom(deviceId, day);
  await tx.putDays([...days.values()]);
  return { kept };
}
