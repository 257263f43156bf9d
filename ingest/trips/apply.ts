// The trips transaction, written once against a narrow interface both backends implement.
//
// Idempotence and order: each device has a cursor (trip_state) with the last seq and time it
// folded in. A fix newer than the cursor in both seq and GNSS time extends the running day rows
// (the common case: fixes arrive in order). Anything else is a redelivery or an out-of-order
// backlog fix: then the device's days are rebuilt from the stored fixes, starting at that fix's
// day, which gives the same numbers however often a fix is delivered and in whatever order.
// The fixes themselves are inserted (idempotently) in the same transaction, so a rebuild never
// depends on the fix-store group having caught up.
import type { Fix } from '../../shared/fix.js';
import type { TripApplyResult } from '../db/store.js';
import { accumulate, dayStartMs, type TripCursor, type TripDay, utcDay } from './accumulate.js';

export interface TripTx {
  insertFixes(fixes: readonly Fix[]): Promise<number>;
  getCursor(deviceId: string): Promise<TripCursor | null>;
  putCursor(deviceId: string, c: TripCursor): Promise<void>;
  getDays(deviceId: string, days: string[]): Promise<TripDay[]>;
  /** Insert or replace the rows. */
  putDays(rows: TripDay[]): Promise<void>;
  deleteDaysFrom(deviceId: string, day: string): Promise<void>;
  /** Stored fixes with time >= fromMs, ordered by time then seq. */
  fixesFrom(deviceId: string, fromMs: number): Promise<Fix[]>;
  /** The stored fix with the greatest time < ms. */
  lastFixBefore(deviceId: string, ms: number): Promise<Fix | null>;
}

const byTime = (a: Fix, b: Fix) => a.time - b.time || a.seq - b.seq;

export async function applyTripsTx(tx: TripTx, fixes: readonly Fix[]): Promise<TripApplyResult> {
  const result: TripApplyResult = { inserted: 0, applied: 0, recomputedDays: 0 };
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
    const cursor = await tx.getCursor(deviceId);
    const fresh: Fix[] = [];
    let lateFrom = Number.POSITIVE_INFINITY;
    let lastSeq = cursor?.lastSeq ?? 0;
    let lastTime = cursor?.lastTime ?? Number.NEGATIVE_INFINITY;
    for (const f of list) {
      if (f.seq > lastSeq && f.time > lastTime) {
        fresh.push(f);
        lastSeq = f.seq;
        lastTime = f.time;
      } else {
        lateFrom = Math.min(lateFrom, f.time);
      }
    }
    if (lateFrom !== Number.POSITIVE_INFINITY) {
      result.recomputedDays += await rebuildFrom(tx, deviceId, utcDay(lateFrom), cursor);
      continue;
    }
    const days = new Map<string, TripDay>();
    for (const row of await tx.getDays(deviceId, [...new Set(fresh.map((f) => utcDay(f.time)))])) {
      days.set(row.day, row);
    }
    const next = accumulate(deviceId, cursor, fresh, days);
    await tx.putDays([...days.values()]);
    if (next) await tx.putCursor(deviceId, next);
    result.applied += fresh.length;
  }
  return result;
}

/** Recomputes every day of the device from `day` on, from the stored fixes. Returns how many days. */
async function rebuildFrom(
  tx: TripTx,
  deviceId: string,
  day: string,
  old: TripCursor | null,
): Promise<number> {
  const start = dayStartMs(day);
  const prev = await tx.lastFixBefore(deviceId, start);
  // The jitter anchor before the rebuilt range is not stored; the last fix is the best stand-in.
  const cursor: TripCursor | null = prev
    ? {
        lastSeq: prev.seq,
        lastTime: prev.time,
        lastLat: prev.lat,
        lastLon: prev.lon,
        anchorLat: prev.lat,
        anchorLon: prev.lon,
      }
    : null;
  const fixes = await tx.fixesFrom(deviceId, start);
  const days = new Map<string, TripDay>();
  const next = accumulate(deviceId, cursor, fixes, days);
  await tx.deleteDaysFrom(deviceId, day);
  await tx.putDays([...days.values()]);
  if (next) {
    // lastSeq must never go back, or an old redelivery would look fresh.
    next.lastSeq = Math.max(next.lastSeq, old?.lastSeq ?? 0);
    await tx.putCursor(deviceId, next);
  }
  return days.size;
}
