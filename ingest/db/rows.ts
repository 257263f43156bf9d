// Mapping between Fix objects and table rows, shared by both backends.
import type { Fix, FixMode } from '../../shared/fix.js';

/** Column order of the fixes table as both backends insert it. */
export const FIX_COLUMNS = [
  'device_id',
  'seq',
  'time',
  'lat',
  'lon',
  'alt',
  'speed',
  'course',
  'hdop',
  'sats',
  'mode',
  'quality',
  'dropped_through',
  'received_at',
] as const;

export interface FixRow {
  device_id: string;
  seq: number | string;
  time: number | string;
  lat: number;
  lon: number;
  alt: number | null;
  speed: number | null;
  course: number | null;
  hdop: number | null;
  sats: number | null;
  mode: number;
  quality: number | null;
  dropped_through: number | string | null;
}

/** PostgreSQL BIGINT arrives as a string (it may exceed 2^53 in general; ours never do). */
const int = (v: number | string): number => (typeof v === 'string' ? Number(v) : v);

export function rowToFix(r: FixRow): Fix {
  const f: Fix = {
    deviceId: r.device_id,
    seq: int(r.seq),
    time: int(r.time),
    lat: r.lat,
    lon: r.lon,
    mode: r.mode as FixMode,
  };
  if (r.alt !== null) f.alt = r.alt;
  if (r.speed !== null) f.speed = r.speed;
  if (r.course !== null) f.course = r.course;
  if (r.hdop !== null) f.hdop = r.hdop;
  if (r.sats !== null) f.sats = r.sats;
  if (r.quality !== null) f.quality = r.quality;
  if (r.dropped_through !== null) f.droppedThrough = int(r.dropped_through);
  return f;
}

/** Per-device totals of the fixes a transaction newly inserted, to fold into the devices table. */
export interface DeviceDelta {
  deviceId: string;
  maxSeq: number;
  added: number;
  droppedThrough: number;
  lastTime: number;
  lastSeq: number;
}

export function deviceDeltas(inserted: Iterable<Fix>): DeviceDelta[] {
  const m = new Map<string, DeviceDelta>();
  for (const f of inserted) {
    const d = m.get(f.deviceId);
    if (!d) {
      m.set(f.deviceId, {
        deviceId: f.deviceId,
        maxSeq: f.seq,
        added: 1,
        droppedThrough: f.droppedThrough ?? 0,
        lastTime: f.time,
        lastSeq: f.seq,
      });
      continue;
    }
    d.added++;
    d.maxSeq = Math.max(d.maxSeq, f.seq);
    d.droppedThrough = Math.max(d.droppedThrough, f.droppedThrough ?? 0);
    if (f.time > d.lastTime || (f.time === d.lastTime && f.seq > d.lastSeq)) {
      d.lastTime = f.time;
      d.lastSeq = f.seq;
    }
  }
  return [...m.values()].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}

/**
 * Fixes sorted by (device, seq): every transaction takes row locks in this order, so none deadlock.
 * Stable: fixes equal in both keep their order (a duplicate's first copy first).
 *
 * The same order as a stable sort on (device, seq), without comparing strings n log n times (a
 * flush is 20,000 fixes of a few hundred devices): grouped by device in arrival order, the devices
 * sorted, and each device's fixes sorted by seq only when they are not in order already, which
 * they are as a partition delivers them.
 */
export function sortedFixes(fixes: readonly Fix[]): Fix[] {
  const byDevice = new Map<string, Fix[]>();
  for (const f of fixes) {
    const group = byDevice.get(f.deviceId);
    if (group) group.push(f);
    else byDevice.set(f.deviceId, [f]);
  }
  // The default sort compares UTF-16 code units, as < does.
  const ids = [...byDevice.keys()].sort();
  const out: Fix[] = [];
  for (const id of ids) {
    const group = byDevice.get(id)!;
    if (!inSeqOrder(group)) group.sort((a, b) => a.seq - b.seq);
    for (const f of group) out.push(f);
  }
  return out;
}

function inSeqOrder(fixes: readonly Fix[]): boolean {
  for (let i = 1; i < fixes.length; i++) if (fixes[i]!.seq < fixes[i - 1]!.seq) return false;
  return true;
}

/** Duplicates within one batch (a producer retry) are dropped before insert: first one wins. */
export function uniqueFixes(sorted: Fix[]): Fix[] {
  return sorted.filter((f, i) => {
    const p = sorted[i - 1];
    return !p || p.deviceId !== f.deviceId || p.seq !== f.seq;
  });
}
