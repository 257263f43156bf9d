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
//
// Steady traffic (about one fix per device per flush) makes the per-device reads the cost, so the
// state and current day row of each device are kept in memory after a commit (state-cache.ts): a
// device whose fixes are all in order (or all redelivered) is folded onto the kept entry without a
// read, and those devices' states and rows are written together (one statement each on
// PostgreSQL). Each state write only goes through if trip_state.version is still the kept one;
// a device whose write changed nothing, whose fixes are late (rebuild), or that has no entry is
// done the careful way: its state read (and on PostgreSQL locked), its rows read, then written.
import type { Fix } from '../../shared/fix.js';
import { noTripWork, type TripApplyResult } from '../db/store.js';
import { accumulate, type TripCursor, type TripDay, utcDay } from './accumulate.js';
import { carryCheckpoints } from './carry.js';
import type { Checkpoints } from './checkpoints.js';
import { addSeqs, hasSeq, type SeqRanges } from './ranges.js';
import { rebuildFrom } from './rebuild.js';
import { type CachedTrips, keep, type StagedTrips } from './state-cache.js';

export interface TripState {
  cursor: TripCursor;
  /** Seqs already folded in. */
  applied: SeqRanges;
}

/** A state as read back, with the version a write of its successor must find (trip_state.version). */
export interface StoredTripState extends TripState {
  version: number;
}

export interface StateWrite {
  deviceId: string;
  state: TripState;
  /** The version the stored state must still have; null: the device must have no state yet. */
  version: number | null;
}

export interface TripTx {
  insertFixes(fixes: readonly Fix[]): Promise<number>;
  /** The device's stored state; PostgreSQL locks its row until the transaction ends. */
  getState(deviceId: string): Promise<StoredTripState | null>;
  /**
   * Writes each state whose stored version is still the one given (version null: inserts it if the
   * device has none), its version then one more (an insert: 1). Returns the devices it did NOT
   * write: their stored state is no longer the one the new state was folded onto.
   */
  putStates(writes: readonly StateWrite[]): Promise<Set<string>>;
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
   * snapshot: a checkpoint holds while that count is unchanged.
   */
  fixesFromCounted(deviceId: string, fromMs: number): Promise<{ fixes: Fix[]; before: number }>;
  /** This database's checkpoints (checkpoints.ts); unset: every rebuild starts at 00:00. */
  checkpoints?: Checkpoints | undefined;
  /** This transaction's view of the kept states (state-cache.ts); unset: every device is read. */
  cache?: StagedTrips | undefined;
}

const byTime = (a: Fix, b: Fix) => a.time - b.time || a.seq - b.seq;

/** A device's fixes of the batch sorted out against its state. */
interface Sorted {
  /** Newer than the cursor in seq and time, in time order. */
  fresh: Fix[];
  /** Seqs of the fixes not skipped. */
  seen: number[];
  skipped: number;
  /** Earliest and latest time of the late fixes (none: +Infinity, -Infinity). */
  lateFrom: number;
  lateTo: number;
}

function sortOut(list: readonly Fix[], state: TripState | null): Sorted {
  const cursor = state?.cursor;
  const applied = state?.applied ?? [];
  const out: Sorted = {
    fresh: [],
    seen: [],
    skipped: 0,
    lateFrom: Number.POSITIVE_INFINITY,
    lateTo: Number.NEGATIVE_INFINITY,
  };
  // A seq twice in the batch (a producer retry) counts once; one fix (steady traffic) needs no set.
  const twice = list.length > 1 ? new Set<number>() : undefined;
  let lastSeq = cursor?.lastSeq ?? 0;
  let lastTime = cursor?.lastTime ?? Number.NEGATIVE_INFINITY;
  for (const f of list) {
    if (hasSeq(applied, f.seq) || twice?.has(f.seq)) {
      out.skipped++;
      continue;
    }
    twice?.add(f.seq);
    out.seen.push(f.seq);
    if (f.seq > lastSeq && f.time > lastTime) {
      out.fresh.push(f);
      lastSeq = f.seq;
      lastTime = f.time;
    } else {
      out.lateFrom = Math.min(out.lateFrom, f.time);
      out.lateTo = Math.max(out.lateTo, f.time);
    }
  }
  return out;
}

/** An in-order device folded onto its kept entry, to be written with the others. */
interface Quick {
  deviceId: string;
  sorted: Sorted;
  lastTimeBefore: number;
  version: number;
  state: TripState;
  rows: TripDay[];
}

/**
 * Folds the fixes onto the kept entry if they are all in order (or redelivered) and the rows of
 * their days are kept or cannot exist yet; undefined otherwise (late fixes, a day not kept: the
 * careful way).
 */
function foldKept(deviceId: string, kept: CachedTrips, list: readonly Fix[]): Quick | undefined {
  const sorted = sortOut(list, kept.state);
  if (sorted.lateFrom !== Number.POSITIVE_INFINITY) return undefined;
  const quick: Quick = {
    deviceId,
    sorted,
    lastTimeBefore: kept.state.cursor.lastTime,
    version: kept.version,
    state: kept.state,
    rows: [],
  };
  if (sorted.fresh.length === 0) return quick;
  const days = new Map<string, TripDay>();
  // No row is ever written for a day after the cursor's (each write's rows are of fixes up to its
  // cursor, and the cursor's time never goes back), so a day after it needs no read: the first
  // flush after midnight stays on this path.
  const cursorDay = utcDay(kept.state.cursor.lastTime);
  let day = '';
  for (const f of sorted.fresh) {
    const d = utcDay(f.time);
    if (d === day) continue;
    day = d;
    const row = kept.days.find((r) => r.day === d);
    if (row) {
      days.set(d, { ...row }); // the kept rows stay as committed
    } else if (d <= cursorDay) {
      return undefined; // not kept: read it
    }
  }
  const cursor = accumulate(deviceId, { ...kept.state.cursor }, sorted.fresh, days)!;
  quick.state = { cursor, applied: addSeqs(kept.state.applied, sorted.seen) };
  quick.rows = [...days.values()];
  return quick;
}

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
  const cache = tx.cache;
  const quick: Quick[] = [];
  const careful: string[] = [];
  // Sorted so that concurrent transactions touch device rows in the same order: the batch in
  // device order, then the careful devices in device order (README: deadlocks).
  for (const deviceId of [...perDevice.keys()].sort()) {
    const list = perDevice.get(deviceId)!;
    if (list.length > 1) list.sort(byTime);
    const kept = cache?.get(deviceId);
    const q = kept && foldKept(deviceId, kept, list);
    if (!q) careful.push(deviceId);
    else if (q.sorted.fresh.length > 0) quick.push(q);
    // All redelivered: the stored applied has every seq the kept one has (it only grows, and only
    // committed states are kept), so they are skipped whatever another process did since.
    else result.skipped += q.sorted.skipped;
  }
  if (quick.length > 0) {
    const stale = await tx.putStates(
      quick.map((q) => ({ deviceId: q.deviceId, state: q.state, version: q.version })),
    );
    const rows: TripDay[] = [];
    for (const q of quick) {
      if (stale.has(q.deviceId)) {
        // Written by someone else since it was kept: nothing of it was written, so again from the
        // stored state.
        cache!.drop(q.deviceId);
        careful.push(q.deviceId);
        continue;
      }
      for (const r of q.rows) rows.push(r);
      cache!.set(q.deviceId, { state: q.state, version: q.version + 1, days: q.rows });
      result.skipped += q.sorted.skipped;
      result.applied += q.sorted.fresh.length;
      result.rebuildReads += await carryCheckpoints(tx, q.deviceId, q.lastTimeBefore, q.sorted.fresh);
    }
    await tx.putDays(rows);
  }
  careful.sort();
  for (const deviceId of careful) await applyCarefully(tx, deviceId, perDevice.get(deviceId)!, result);
  return result;
}

/** At most this many writes of one device may find its state changed (then the flush fails). */
const MAX_ATTEMPTS = 3;

/** One device from its stored state: read (and locked), folded or rebuilt, written. */
async function applyCarefully(
  tx: TripTx,
  deviceId: string,
  list: readonly Fix[],
  result: TripApplyResult,
): Promise<void> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = await tx.getState(deviceId);
    const sorted = sortOut(list, stored);
    const { fresh } = sorted;
    if (sorted.lateFrom !== Number.POSITIVE_INFINITY) {
      // Fresh fixes of this batch are folded in by the rebuild too (they are stored by now).
      let lateFrom = sorted.lateFrom;
      for (const f of fresh) lateFrom = Math.min(lateFrom, f.time);
      const fromDay = utcDay(lateFrom);
      const rebuilt = await rebuildFrom(tx, deviceId, fromDay, { from: lateFrom, to: sorted.lateTo }, stored);
      if (!rebuilt) {
        tx.cache?.drop(deviceId); // a state inserted meanwhile (PostgreSQL): nothing written, again
        continue;
      }
      result.skipped += sorted.skipped;
      result.recomputedDays += rebuilt.days;
      result.rebuilt.push({ deviceId, fromDay, days: rebuilt.days });
      result.rebuildReads += rebuilt.reads;
      if (rebuilt.resumed) result.resumedRebuilds++;
      if (rebuilt.kept) tx.cache?.set(deviceId, rebuilt.kept);
      else tx.cache?.drop(deviceId);
      return;
    }
    if (fresh.length === 0) {
      result.skipped += sorted.skipped;
      if (stored) tx.cache?.set(deviceId, keep(stored, stored.version, []));
      return;
    }
    const days = new Map<string, TripDay>();
    for (const row of await tx.getDays(deviceId, [...new Set(fresh.map((f) => utcDay(f.time)))])) {
      days.set(row.day, row);
    }
    const cursor = stored ? { ...stored.cursor } : null;
    const state = {
      cursor: accumulate(deviceId, cursor, fresh, days)!,
      applied: addSeqs(stored?.applied ?? [], sorted.seen),
    };
    const version = stored?.version ?? null;
    if ((await tx.putStates([{ deviceId, state, version }])).size > 0) {
      tx.cache?.drop(deviceId);
      continue;
    }
    const rows = [...days.values()];
    await tx.putDays(rows);
    tx.cache?.set(deviceId, keep(state, (version ?? 0) + 1, rows));
    result.skipped += sorted.skipped;
    result.applied += fresh.length;
    result.rebuildReads += await carryCheckpoints(tx, deviceId, stored?.cursor.lastTime ?? null, fresh);
    return;
  }
  throw new Error(`trips: the state of ${deviceId} changed under ${MAX_ATTEMPTS} writes in a row`);
}
