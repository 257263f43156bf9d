// The fold a rebuild does, cut at the seq holes so that the state there can be kept as checkpoints
// (checkpoints.ts). Pure: rebuild.ts writes what it returns, carry.ts only keeps the checkpoints.
import type { Fix } from '../../shared/fix.js';
import { accumulate, cursorAt, type TripCursor, type TripDay } from './accumulate.js';
import { type Checkpoint, MAX_CHECKPOINT_RANGES } from './checkpoints.js';
import { type SeqRanges, unionRanges } from './ranges.js';

/** The cursor before a rebuilt day: its last fix before, where an in-order fold restarts too. */
export function anchorAt(prev: Fix | null): TripCursor | null {
  return prev ? cursorAt(prev) : null;
}

/** Where a fold starts: at 00:00 (no rows, no seqs) or at a checkpoint. */
export interface FoldFrom {
  cursor: TripCursor | null;
  rows: TripDay[];
  /** Seqs folded from 00:00 up to here (a checkpoint's). */
  seqs: SeqRanges;
  /** Stored fixes before the first one of the fold. */
  before: number;
}

export function fromCheckpoint(cp: Checkpoint): FoldFrom {
  return { cursor: { ...cp.cursor }, rows: cp.rows.map((r) => ({ ...r })), seqs: cp.seqs, before: cp.before };
}

export interface Folded {
  days: Map<string, TripDay>;
  cursor: TripCursor | null;
  /** The state before each seq hole, oldest first. */
  holes: Checkpoint[];
  /** The state after the last fix (undefined without fixes). */
  end: Checkpoint | undefined;
}

/**
 * Folds `fixes` (every stored fix from the start on, in time order) into `from`, as a rebuild of
 * `day` from 00:00 would at that point, remembering the state before each hole in the seqs.
 */
export function foldFrom(deviceId: string, day: string, from: FoldFrom, fixes: readonly Fix[]): Folded {
  const days = new Map<string, TripDay>(from.rows.map((r) => [r.day, r]));
  let cursor = from.cursor;
  // Seqs folded from 00:00 on, for the checkpoints; past the cap (a day of lost fixes) no more
  // checkpoints are made and the union is no longer worth keeping.
  let seqs: SeqRanges | null = from.seqs;
  const holes: Checkpoint[] = [];
  const snapshot = (c: TripCursor, boundary: number, gapMs: number, before: number, s: SeqRanges) => ({
    day,
    boundary,
    gapMs,
    before,
    cursor: { ...c },
    rows: [...days.values()].map((r) => ({ ...r })),
    seqs: s,
  });
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
      holes.push(
        snapshot(cursor, Math.min(last.time + 1, after.time), after.time - last.time, from.before + j, seqs),
      );
    }
    i = j;
  }
  const last = fixes[fixes.length - 1];
  const end =
    cursor && seqs && last
      ? snapshot(cursor, last.time + 1, Number.POSITIVE_INFINITY, from.before + fixes.length, seqs)
      : undefined;
  return { days, cursor, holes, end };
}
