// Carrying the checkpoints (checkpoints.ts) through in-order flushes, so that the first late flush
// after a dead zone finds one at the start of the hole instead of reading the day from 00:00.
//
// The state a rebuild from 00:00 would reach after this flush's fixes is the end checkpoint's
// state with these fixes folded on: one more fold of the flush, in memory, alongside the one that
// writes the rows (the same numbers since both restart the anchor at midnight from the last fix,
// accumulate.ts; kept apart because the checkpoint's cursor and the kept one are separate objects
// that a rebuild may replace). A day's first fixes start the chain: a rebuild of
// that day would read only them, so two reads make its state. A process started mid-day has no
// chain for the day, nor does a device after the chain fell out of step; their first rebuild of
// the day starts it. The checkpoints claim only "the fold of the stored fixes before my
// boundary"; the checks when one is used (rebuild.ts) are the same whoever made it.
import type { Fix } from '../../shared/fix.js';
import { accumulate, dayStartMs, type TripDay, utcDay } from './accumulate.js';
import type { TripTx } from './apply.js';
import { type Checkpoint, MAX_CHECKPOINT_RANGES } from './checkpoints.js';
import { anchorAt, foldFrom, fromCheckpoint } from './fold.js';
import { appendRun } from './ranges.js';

/** No late fix to go by here: beyond the cap, the checkpoints before the widest holes are kept. */
const WIDEST = Number.POSITIVE_INFINITY;

/**
 * After an in-order flush folded `fresh` (time order) onto a cursor whose last time was
 * `lastTimeBefore` (null: the device's first fixes). Returns the stored fixes it read.
 */
export async function carryCheckpoints(
  tx: TripTx,
  deviceId: string,
  lastTimeBefore: number | null,
  fresh: readonly Fix[],
): Promise<number> {
  const cps = tx.checkpoints;
  const first = fresh[0];
  if (!cps || !first) return 0;
  const day = utcDay(fresh[fresh.length - 1]!.time);
  const start = dayStartMs(day);
  const end = cps.end(deviceId);
  if (end && end.day === day && end.cursor.lastTime === lastTimeBefore && end.boundary <= first.time) {
    if (oneRun(fresh)) {
      // What foldFrom gives for fixes without a hole among them (steady traffic: one fix), without
      // its generic copies: no hole checkpoint, a new end.
      cps.set(deviceId, [...cps.holes(deviceId)], extendEnd(deviceId, end, fresh), WIDEST);
      return 0;
    }
    const folded = foldFrom(deviceId, day, fromCheckpoint(end), fresh);
    cps.set(deviceId, [...cps.holes(deviceId), ...folded.holes], folded.end, WIDEST);
    return 0;
  }
  if (lastTimeBefore === null || lastTimeBefore < start) {
    const { fixes, before } = await tx.fixesFromCounted(deviceId, start);
    const prev = await tx.lastFixBefore(deviceId, start);
    const folded = foldFrom(deviceId, day, { cursor: anchorAt(prev), rows: [], seqs: [], before }, fixes);
    cps.set(deviceId, [...cps.holes(deviceId), ...folded.holes], folded.end, WIDEST);
    return fixes.length;
  }
  // Out of step (or none): the holes stand, the end is of no use any more.
  if (end) cps.set(deviceId, [...cps.holes(deviceId)], undefined);
  return 0;
}

/** Consecutive seqs: foldFrom folds them as one piece and makes no hole checkpoint. */
function oneRun(fixes: readonly Fix[]): boolean {
  for (let i = 1; i < fixes.length; i++) if (fixes[i]!.seq !== fixes[i - 1]!.seq + 1) return false;
  return true;
}

/** The end checkpoint after folding one run onto `end` (undefined past the seqs cap, as foldFrom). */
function extendEnd(deviceId: string, end: Checkpoint, run: readonly Fix[]): Checkpoint | undefined {
  const first = run[0]!;
  const last = run[run.length - 1]!;
  const seqs = appendRun(end.seqs, first.seq, last.seq);
  if (seqs.length > MAX_CHECKPOINT_RANGES) return undefined;
  const days = new Map<string, TripDay>();
  for (const r of end.rows) days.set(r.day, { ...r }); // the checkpoint's rows stay as they were
  const cursor = accumulate(deviceId, { ...end.cursor }, run, days)!;
  return {
    day: end.day,
    boundary: last.time + 1,
    gapMs: Number.POSITIVE_INFINITY,
    before: end.before + run.length,
    cursor,
    rows: [...days.values()],
    seqs,
  };
}
