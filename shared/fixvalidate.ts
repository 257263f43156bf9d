// The one place that says what a valid fix is. The encoder, the decoder and the agent's
// outbox all ask it, so a value the cloud would reject never leaves the device unnoticed.
import type { Fix } from './fix.js';

/** GPS time began on 1980-01-06; anything before it is a receiver that has not found the date. */
export const MIN_TIME_MS = Date.UTC(1980, 0, 6);
/** Far enough for any device in service, small enough to catch garbage. */
export const MAX_TIME_MS = Date.UTC(2200, 0, 1);

const isNum = (v: unknown): v is number => typeof v === 'number';

function range(name: string, v: unknown, min: number, max: number, integer = false): string | null {
  // The common case first, in one test: a number in range (NaN fails the comparisons, and no
  // bound is infinite) that is an integer where it must be. The ingest validates every fix it
  // decodes; the checks below only say why when this fails.
  if (typeof v === 'number' && v >= min && v <= max && (!integer || Number.isInteger(v))) return null;
  if (!isNum(v) || !Number.isFinite(v)) return `${name} is ${String(v)}, not a finite number`;
  if (integer && !Number.isInteger(v)) return `${name} is ${v}, not an integer`;
  if (v < min || v > max) return `${name} ${v} is outside ${min}..${max}`;
  return null;
}

// Control and format characters (newlines, U+202E right-to-left override, zero-width spaces): an id
// with one displays as another id, or reverses the text around it on the dashboard.
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;

/**
 * Why a device id cannot be shown and addressed faithfully, or null. Besides invisible characters:
 * spaces at either end (" sim-0001" showed as a second sim-0001), and "." or "..", which a
 * browser folds out of /api/devices/../track (the device's track could not be opened).
 */
function deviceIdProblem(id: string): string | null {
  if (INVISIBLE.test(id)) {
    const c = id.match(INVISIBLE)![0]!.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return `deviceId contains an invisible character (U+${c})`;
  }
  if (id.trim() !== id) return 'deviceId starts or ends with a space';
  if (id === '.' || id === '..') return `deviceId "${id}" is a path step, not a name`;
  return null;
}

/** Returns why the fix is invalid, or null when it is valid. */
export function validateFix(fix: Fix): string | null {
  return validateDeviceId(fix.deviceId) ?? validateFixFields(fix);
}

/** validateFix's first part: why the device id is invalid, or null. Depends on the id alone. */
export function validateDeviceId(id: unknown): string | null {
  if (typeof id !== 'string' || id.length === 0) return 'deviceId is empty';
  // PostgreSQL text cannot hold NUL, and no real device id has one: refuse it at the edge.
  if (id.includes('\0')) return 'deviceId contains a NUL character';
  return deviceIdProblem(id);
}

/**
 * validateFix's second part: everything but the device id. The decoder asks only this for an id
 * it has seen valid before (shared/device-ids.ts); validateFix(fix) is always
 * validateDeviceId(fix.deviceId) ?? validateFixFields(fix).
 */
export function validateFixFields(fix: Fix): string | null {
  return (
    validateSeq(fix.seq) ??
    range('time', fix.time, MIN_TIME_MS, MAX_TIME_MS, true) ??
    range('lat', fix.lat, -90, 90) ??
    range('lon', fix.lon, -180, 180) ??
    (fix.mode === 2 || fix.mode === 3 ? null : `mode ${String(fix.mode)} is not 2 (2D) or 3 (3D)`) ??
    optional('alt', fix.alt, -20_000, 1_000_000) ??
    optional('speed', fix.speed, 0, 655) ??
    optional('course', fix.course, 0, 360) ??
    optional('hdop', fix.hdop, 0, 655) ??
    optional('sats', fix.sats, 0, 255, true) ??
    optional('quality', fix.quality, 0, 15, true) ??
    optional('droppedThrough', fix.droppedThrough, 1, fix.seq - 1, true)
  );
}

/** Why a seq is invalid, or null: validateFixFields' first check. */
export function validateSeq(seq: unknown): string | null {
  return range('seq', seq, 1, Number.MAX_SAFE_INTEGER, true);
}

function optional(name: string, v: unknown, min: number, max: number, integer = false): string | null {
  return v === undefined ? null : range(name, v, min, max, integer);
}
