// Trip metrics per device and UTC day, computed from fixes in GNSS-time order.
//
// Pure code: the store feeds it fixes and persists its state, so incremental updates (a fix at a
// time) and a rebuild from the stored fixes run the same arithmetic and give the same numbers.
//
// GPS jitter: a parked receiver wanders a few metres around the true point, which would add up
// to kilometres a day. A fix counts as movement only when the receiver says it is moving
// (speed >= 0.5 m/s) or it left the circle the receiver's own accuracy allows (hdop-based radius)
// around the last counted position (the anchor). Otherwise the anchor stays put and nothing is added.
import type { Fix } from '../../shared/fix.js';

/** Below this speed over ground (m/s) the receiver is taken as standing still. */
export const STOPPED_SPEED_MPS = 0.5;
/** Metres of error per unit of HDOP (a typical consumer receiver's UERE). */
export const METRES_PER_HDOP = 5;
/** The jitter circle is never smaller than this (metres), whatever hdop says. */
export const MIN_JITTER_RADIUS_M = 10;
/** HDOP assumed when the fix carries none. */
export const DEFAULT_HDOP = 2;
/** A longer silence between fixes adds its distance but not its duration to moving time. */
export const MAX_MOVING_GAP_MS = 60_000;

const EARTH_RADIUS_M = 6_371_008.8;

export interface TripDay {
  deviceId: string;
  /** UTC day of the GNSS time, 'YYYY-MM-DD'. */
  day: string;
  distanceM: number;
  movingS: number;
  maxSpeedMps: number;
  /** Fixes of the day taken into account. */
  fixes: number;
  firstTime: number;
  lastTime: number;
}

/** The minimum a running trip needs to continue: the last fix seen and the anchor for jitter. */
export interface TripCursor {
  lastSeq: number;
  lastTime: number;
  lastLat: number;
  lastLon: number;
  anchorLat: number;
  anchorLon: number;
}

const DAY_MS = 86_400_000;

// utcDay and dayStartMs run several times per fix of a flush (apply, accumulate, carry); a Date
// and an ISO string each time were a visible part of the trips CPU. The UTC day depends only on
// floor(ms / DAY_MS) (JS time has no leap seconds), so the strings are made once per day number
// and kept, bounded (a flush touches a day or two; a rebuild of old backlogs a few more).
const DAY_CACHE_MAX = 4096;
const dayNames = new Map<number, string>();
const dayStarts = new Map<string, number>();

export function utcDay(ms: number): string {
  const n = Math.floor(ms / DAY_MS);
  let day = dayNames.get(n);
  if (day === undefined) {
    day = new Date(ms).toISOString().slice(0, 10); // throws for an invalid time, as before
    if (dayNames.size >= DAY_CACHE_MAX) dayNames.clear();
    dayNames.set(n, day);
  }
  return day;
}

export function dayStartMs(day: string): number {
  let ms = dayStarts.get(day);
  if (ms === undefined) {
    ms = Date.parse(`${day}T00:00:00Z`);
    if (dayStarts.size >= DAY_CACHE_MAX) dayStarts.clear();
    dayStarts.set(day, ms);
  }
  return ms;
}

/** Great-circle distance in metres. */
export function haversineM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

export function jitterRadiusM(hdop: number | undefined): number {
  return Math.max(MIN_JITTER_RADIUS_M, (hdop ?? DEFAULT_HDOP) * METRES_PER_HDOP);
}

/**
 * Folds fixes (already in time order) into day rows. `days` holds rows to extend (keyed by day);
 * new days are added to it. Returns the cursor after the last fix. The segment from the previous
 * fix to a fix belongs to the day of the later fix, so a trip across midnight is counted once.
 */
export function accumulate(
  deviceId: string,
  cursor: TripCursor | null,
  fixes: readonly Fix[],
  days: Map<string, TripDay>,
): TripCursor | null {
  let c = cursor;
  // utcDay (a Date and an ISO string) per fix was most of the fold's time; fixes come in time
  // order, so the day only changes at midnight.
  let day = '';
  let dayFrom = Number.POSITIVE_INFINITY;
  let dayTo = Number.NEGATIVE_INFINITY;
  for (const f of fixes) {
    if (!(f.time >= dayFrom && f.time < dayTo)) {
      day = utcDay(f.time);
      dayFrom = dayStartMs(day);
      dayTo = dayFrom + DAY_MS;
    }
    let row = days.get(day);
    if (!row) {
      row = {
        deviceId,
        day,
        distanceM: 0,
        movingS: 0,
        maxSpeedMps: 0,
        fixes: 0,
        firstTime: f.time,
        lastTime: f.time,
      };
      days.set(day, row);
    }
    row.fixes++;
    row.firstTime = Math.min(row.firstTime, f.time);
    row.lastTime = Math.max(row.lastTime, f.time);
    if (f.speed !== undefined) row.maxSpeedMps = Math.max(row.maxSpeedMps, f.speed);
    if (!c) {
      c = {
        lastSeq: f.seq,
        lastTime: f.time,
        lastLat: f.lat,
        lastLon: f.lon,
        anchorLat: f.lat,
        anchorLon: f.lon,
      };
      continue;
    }
    const dt = f.time - c.lastTime;
    const fromAnchor = haversineM(c.anchorLat, c.anchorLon, f.lat, f.lon);
    // Standing still: the receiver says so (or says nothing) and the fix stays in the jitter circle.
    const movingBySpeed = f.speed !== undefined && f.speed >= STOPPED_SPEED_MPS;
    if (movingBySpeed || fromAnchor > jitterRadiusM(f.hdop)) {
      row.distanceM += fromAnchor;
      if (dt > 0 && dt <= MAX_MOVING_GAP_MS) row.movingS += dt / 1000;
      c.anchorLat = f.lat;
      c.anchorLon = f.lon;
    }
    c.lastSeq = Math.max(c.lastSeq, f.seq);
    c.lastTime = f.time;
    c.lastLat = f.lat;
    c.lastLon = f.lon;
  }
  return c;
}
