// Trip metrics per device and UTC day, computed from fixes in GNSS-time order.
//
// Pure code: the store feeds it fixes and persists its state, so incremental updates (a fix at a
// time) and a rebuild from the stored fixes run the same arithmetic and give the same numbers.
//
// GPS jitter: a parked receiver wanders a few metres around the true point, which would add up
// to kilometres a day. A fix counts as movement only when the receiver says it is moving
// (speed >= 0.5 m/s) or it left the circle the receiver's own accuracy allows (hdop-based radius)
// around the last counted position (the anchor). Otherwise the anchor stays put and nothing is added.
// When the receiver says it is standing still (speed < 0.5 m/s) the circle is twice as wide: the
// anchor is itself a noisy point, so two fixes of one parked receiver can be a full diameter apart,
// and with the single radius a stop with 6-10 m of scatter moved its anchor back and forth, adding
// kilometres an hour while parked.
//
// Wild fixes: a receiver now and then reports a position kilometres off (multipath, a bad solution)
// for a fix or two, often with a wild speed too. Counted, one such fix added twice its error to the
// day. A fix farther from the anchor than MAX_PLAUSIBLE_SPEED_MPS allows since the anchor was last
// confirmed is left out of distance, moving time and max speed (it still counts as a fix of the
// day). Two such fixes in a row that agree with each other mean the receiver really is there (the
// earlier positions were the wrong ones, or it travelled with no fixes): the anchor moves to them,
// the jump itself uncounted.
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
/**
 * Faster than this (m/s; 252 km/h) is not a delivery vehicle: a reported speed above it is not
 * taken as max speed, and a position that would need it is a wild fix (above).
 */
export const MAX_PLAUSIBLE_SPEED_MPS = 70;

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
  /** The last fix folded in, a wild one too. */
  lastTime: number;
  lastLat: number;
  lastLon: number;
  /** The last counted position. */
  anchorLat: number;
  anchorLon: number;
  /** When the anchor was set: the time a move without reported speed took (moving time). */
  anchorTime: number;
  /** The last fix that was not wild (it moved the anchor or stayed within its circle). */
  anchorSeen: number;
  /** The last fix's reported speed (m/s; null when it had none, or one no vehicle makes). */
  lastSpeed: number | null;
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

/** A reported speed, unless it is missing or not a delivery vehicle's (then unknown). */
function plausibleSpeed(f: Fix): number | undefined {
  return f.speed !== undefined && f.speed <= MAX_PLAUSIBLE_SPEED_MPS ? f.speed : undefined;
}

/** Whether the receiver could have gone `m` metres in `ms` (its jitter circle on top). */
function reachable(m: number, ms: number, radius: number): boolean {
  return m <= radius + (MAX_PLAUSIBLE_SPEED_MPS * Math.max(0, ms)) / 1000;
}

/** The cursor at a fix with no history before it: the fix is the anchor. */
export function cursorAt(f: Fix): TripCursor {
  return {
    lastSeq: f.seq,
    lastTime: f.time,
    lastLat: f.lat,
    lastLon: f.lon,
    anchorLat: f.lat,
    anchorLon: f.lon,
    anchorTime: f.time,
    anchorSeen: f.time,
    lastSpeed: plausibleSpeed(f) ?? null,
  };
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
      // A new day starts from its last fix before (anchorAt in fold.ts), as a rebuild of the day
      // does: it reads only the stored fixes, not where the anchor was. So a day is the same folded
      // in order or rebuilt after a late fix, whatever the days before it held.
      if (c && c.lastTime < dayFrom) restartAtLast(c);
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
    if (!c) {
      c = cursorAt(f);
      const speed = plausibleSpeed(f);
      if (speed !== undefined) row.maxSpeedMps = Math.max(row.maxSpeedMps, speed);
      continue;
    }
    const dt = f.time - c.lastTime;
    const radius = jitterRadiusM(f.hdop);
    let fromAnchor = haversineM(c.anchorLat, c.anchorLon, f.lat, f.lon);
    if (!reachable(fromAnchor, f.time - c.anchorSeen, radius)) {
      const lastWasWild = c.lastTime > c.anchorSeen;
      if (!(lastWasWild && reachable(haversineM(c.lastLat, c.lastLon, f.lat, f.lon), dt, radius))) {
        advance(c, f); // wild: a fix of the day, nothing more
        continue;
      }
      // Two wild fixes that agree: the receiver is there. Start over from the first of them.
      restartAtLast(c);
      fromAnchor = haversineM(c.anchorLat, c.anchorLon, f.lat, f.lon);
    }
    const speed = plausibleSpeed(f);
    if (speed !== undefined) row.maxSpeedMps = Math.max(row.maxSpeedMps, speed);
    const prevSpeed = c.lastSpeed;
    // Moving by speed needs two readings in a row: a parked receiver now and then reports one
    // reading over 0.5 m/s (real receivers: 0.63 among 0.1-0.5), which alone counted all the
    // scatter since the anchor. A real start loses nothing: distance is from the anchor.
    const saysMoving = speed !== undefined && speed >= STOPPED_SPEED_MPS;
    const movingBySpeed = saysMoving && prevSpeed !== null && prevSpeed >= STOPPED_SPEED_MPS;
    const stoppedBySpeed = speed !== undefined && speed < STOPPED_SPEED_MPS;
    const sinceAnchor = f.time - c.anchorTime;
    if (movingBySpeed || fromAnchor > (stoppedBySpeed ? 2 * radius : radius)) {
      if (dopplerDisagrees(c, f, dt, speed, prevSpeed)) {
        // The position raced away from the last fix while the receiver's own speed says it
        // barely moved: a solution converging after a cold start, or a noise jump. The Doppler
        // speed is the better witness; follow the position, count nothing.
        moveAnchor(c, f);
      } else {
        row.distanceM += fromAnchor;
        // Moving since the previous fix, when the receiver says so. Otherwise the device took the
        // time since the anchor was set to leave its circle (a crawl leaves it every few seconds;
        // counting only the last second lost most of it), unless that is longer than a moving
        // gap: then it stood first and only the last interval is known to be movement.
        const moved = !saysMoving && sinceAnchor <= MAX_MOVING_GAP_MS ? sinceAnchor : dt;
        if (moved > 0 && moved <= MAX_MOVING_GAP_MS) row.movingS += moved / 1000;
        moveAnchor(c, f);
      }
    }
    c.anchorSeen = f.time;
    advance(c, f);
  }
  return c;
}

/**
 * Up to this interval (ms) between two fixes, the speeds the receiver reported bound how far it
 * can have gone between them (dopplerDisagrees). Over a longer silence anything may have happened
 * (a rider stopped at both ends of an underpass still drove through it).
 */
export const DOPPLER_CHECK_MS = 10_000;

/**
 * Whether the step from the last fix to f is far beyond what the reported speeds allow:
 * more than 3 x the faster of the two readings + 1 m/s. Real receivers: a 5-satellite cold start
 * drifting 3.7 m/s while reporting 0.05; a 4-satellite one jumping 15 m in a second at 0.4-0.6.
 * Driving, the step and the speed agree (GNSS Doppler speed is good to ~0.1 m/s).
 */
function dopplerDisagrees(
  c: TripCursor,
  f: Fix,
  dt: number,
  speed: number | undefined,
  prevSpeed: number | null,
): boolean {
  if (speed === undefined || dt <= 0 || dt > DOPPLER_CHECK_MS || c.lastTime > c.anchorSeen) return false;
  const step = haversineM(c.lastLat, c.lastLon, f.lat, f.lon) / (dt / 1000);
  return step > 3 * Math.max(speed, prevSpeed ?? 0) + 1;
}

function moveAnchor(c: TripCursor, f: Fix): void {
  c.anchorLat = f.lat;
  c.anchorLon = f.lon;
  c.anchorTime = f.time;
}

function restartAtLast(c: TripCursor): void {
  c.anchorLat = c.lastLat;
  c.anchorLon = c.lastLon;
  c.anchorTime = c.anchorSeen = c.lastTime;
}

function advance(c: TripCursor, f: Fix): void {
  c.lastSeq = Math.max(c.lastSeq, f.seq);
  c.lastTime = f.time;
  c.lastLat = f.lat;
  c.lastLon = f.lon;
  c.lastSpeed = plausibleSpeed(f) ?? null;
}
