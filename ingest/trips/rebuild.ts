// Rebuilding a device's days from the stored fixes, after an out-of-order (backlog) fix.
//
// Without checkpoints (tx.checkpoints unset) every rebuild starts at 00:00 of the earliest late
// fix's day. With them (checkpoints.ts) it continues from the latest state remembered before that
// fix, when the stored fixes before it are still the same; the day rows, cursor and applied seqs
// it writes are the ones a rebuild from 00:00 writes (test/trips-checkpoints.test.ts checks that
// against the rebuild from 00:00 and against an in-order run).
import type { Fix } from '../../shared/fix.js';
import { accumulate, dayStartMs, type TripCursor, type TripDay } from './accumulate.js';
import type { TripState, TripTx } from './apply.js';
import { type Checkpoint, MAX_CHECKPOINT_RANGES } from './checkpoints.js';
import { addSeqs, coversRanges, type SeqRanges, unionRanges } from './ranges.js';

export interface Rebuilt {
  /** Days rewritten (from `day` on). */
  days: number;
  /** Stored fixes read. */
  reads: number;
  /** Whether it continued from a checkpoint. */
  resumed: boolean;
}

/** The batch's fixes that caused the rebuild: from the earliest one to fold in (its day is the
 * rebuilt day) to the latest late one (a backlog drained oldest first goes on right after it). */
export interface Late {
  from: number;
  to: number;
}

/** Recomputes every day of the device from `day` on, from the stored fixes. */
export async function rebuildFrom(
  tx: TripTx,
  deviceId: string,
  day: string,
  late: Late,
  old: TripState | null,
): Promise<Rebuilt> {
  const cps = tx.checkpoints;
  if (!cps) return rebuildFromDayStart(tx, deviceId, day, old);
  const cp = cps.latest(deviceId, day, late.from);
  if (cp) {
    const { fixes, before } = await tx.fixesFromCounted(deviceId, cp.boundary);
    // The count proves the stored fixes before the boundary the same; `applied` having all the
    // seqs the checkpoint folded proves its transaction committed (a rolled-back one may have
    // inserted a fix the count now counts in place of another one stored since).
    if (before === cp.before && coversRanges(old?.applied ?? [], cp.seqs)) {
      const from: FoldFrom = {
        cursor: { ...cp.cursor },
        rows: cp.rows.map((r) => ({ ...r })),
        seqs: cp.seqs,
        before,
      };
      const made = await foldAndWrite(tx, deviceId, day, old, from, fixes);
      // The older checkpoints of this day stand too: the fixes before them are unchanged as well.
      const kept = cps.get(deviceId).filter((c) => c.day === day && c.boundary <= cp.boundary);
      cps.set(deviceId, [...kept, ...made.checkpoints], late.to);
      return { days: made.days, reads: fixes.length, resumed: true };
    }
    // Fixes before the boundary were stored since (by fix-store, say): start over at 00:00.
    cps.set(deviceId, []);
  }
  const start = dayStartMs(day);
  const { fixes, before } = await tx.fixesFromCounted(deviceId, start);
  // Read after the counted fixes: if a fix before `start` was stored in between (PostgreSQL, READ
  // COMMITTED), the count is short and no checkpoint made here will ever match.
  const prev = await tx.lastFixBefore(deviceId, start);
  const from: FoldFrom = { cursor: anchorAt(prev), rows: [], seqs: [], before };
  const made = await foldAndWrite(tx, deviceId, day, old, from, fixes);
  cps.set(deviceId, made.checkpoints, late.to);
  return { days: made.days, reads: fixes.length, resumed: false };
}

/** The cursor before a rebuilt day: the jitter anchor there is not stored; the last fix stands in. */
function anchorAt(prev: Fix | null): TripCursor | null {
  return prev
    ? {
        lastSeq: prev.seq,
        lastTime: prev.time,
        lastLat: prev.lat,
        lastLon: prev.lon,
        anchorLat: prev.lat,
        anchorLon: prev.lon,
      }
    : null;
}

/** The rebuild as it always was: everything from 00:00 of `day`. */
async function rebuildFromDayStart(
  tx: TripTx,
  deviceId: string,
  day: string,
  old: TripState | null,
): Promise<Rebuilt> {
  const start = dayStartMs(day);
  const prev = await tx.lastFixBefore(deviceId, start);
  const fixes = await tx.fixesFrom(deviceId, start);
  const days = new Map<string, TripDay>();
  const next = accumulate(deviceId, anchorAt(prev), fixes, days);
  await writeRebuilt(tx, deviceId, day, old, days, next, fixes);
  return { days: days.size, reads: fixes.length, resumed: false };
}

/** Where a fold starts: at 00:00 (no rows, no seqs) or at a checkpoint. */
interface FoldFrom {
  cursor: TripCursor | null;
  rows: TripDay[];
  /** Seqs folded from 00:00 up to here (a checkpoint's). */
  seqs: SeqRanges;
  /** Stored fixes before the first one of the fold. */
  before: number;
}

/**
 * Folds `fixes` (every stored fix from the start on, in time order) into `from`, remembering the
 * state before each hole in the seqs, then writes the days and state as a rebuild does.
 */
async function foldAndWrite(
  tx: TripTx,
  deviceId: string,
  day: string,
  old: TripState | null,
  from: FoldFrom,
  fixes: Fix[],
): Promise<{ days: number; checkpoints: Checkpoint[] }> {
  const days = new Map<string, TripDay>(from.rows.map((r) => [r.day, r]));
  let cursor = from.cursor;
  // Seqs folded from 00:00 on, for the checkpoints; past the cap (a day of lost fixes) no more
  // checkpoints are made and the union is no longer worth keeping.
  let seqs: SeqRanges | null = from.seqs;
  const checkpoints: Checkpoint[] = [];
  for (let i = 0; i < fixes.length; ) {
    // A run of consecutive seqs, folded as one piece: the same additions as one pass.
    let j = i + 1;
    while (j < fixes.length && fixes[j]!.seq === fixes[j - 1]!.seq + 1) j++;
    cursor = accumulate(deviceId, cursor, fixes.slice(i, j), days);
    if (seqs) seqs = unionRanges(seqs, [[fixes[i]!.seq, fixes[j - 1]!.seq]]);
    if (seqs && seqs.length > MAX_CHECKPOINT_RANGES) seqs = null;
    const last = fixes[j - 1]!;
    const after = fixes[j];
    // A hole in the seqs (the rest of a backlog, most likely) and a time between the two fixes
    // that splits them: a later rebuild from here folds exactly the fixes after it.
    if (cursor && seqs && after && after.time > last.time) {
      checkpoints.push({
        day,
        boundary: Math.min(last.time + 1, after.time),
        gapMs: after.time - last.time,
        before: from.before + j,
        cursor: { ...cursor },
        rows: [...days.values()].map((r) => ({ ...r })),
        seqs,
      });
    }
    i = j;
  }
  await writeRebuilt(tx, deviceId, day, old, days, cursor, fixes);
  return { days: days.size, checkpoints };
}

async function writeRebuilt(
  tx: TripTx,
  deviceId: string,
  day: string,
  old: TripState | null,
  days: Map<string, TripDay>,
  next: TripCursor | null,
  fixes: Fix[],
): Promise<void> {
  await tx.deleteDaysFrom(deviceId, day);
  await tx.putDays([...days.values()]);
  if (next) {
    // lastSeq must never go back, or an old redelivery would look fresh.
    next.lastSeq = Math.max(next.lastSeq, old?.cursor.lastSeq ?? 0);
    // Every stored fix read here is now folded in, including ones the fix-store group stored
    // before trips saw them: when they arrive they are skipped, not rebuilt again. (Those before a
    // checkpoint are in `applied` already: it is used only then.)
    await tx.putState(deviceId, {
      cursor: next,
      applied: addSeqs(
        old?.applied ?? [],
        fixes.map((f) => f.seq),
      ),
    });
  }
}
