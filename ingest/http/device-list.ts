// The body of GET /api/devices: the database's devices, each with the live view's fix when that
// is newer, then the devices only the live view knows. Those are there when the fix-store group
// runs in another process, not at all (`--groups live`), or has not written them yet; their
// newest fix and when it arrived is all that is known of them, so they have `stored: false` and
// no counts or gaps (absent, not zero: nothing says none are missing).
import type { Fix } from '../../shared/fix.js';
import type { DeviceSummary } from '../db/store.js';
import type { LiveEvent } from '../live/event.js';

export interface DeviceListOptions {
  /** Ms since 1970 of this answer. */
  now: number;
  offlineAfterMs: number;
}

export function listDevices(
  rows: readonly DeviceSummary[],
  live: { get(deviceId: string): LiveEvent | undefined; all(): Iterable<LiveEvent> },
  o: DeviceListOptions,
) {
  // Online state and backlog come from the newest fix and when anything last arrived.
  const seen = (lastFix: Fix, lastSeenMs: number) => ({
    lastFix,
    lastSeenMs,
    lastSeen: new Date(lastSeenMs).toISOString(),
    status: o.now - lastSeenMs <= o.offlineAfterMs ? 'online' : 'offline',
    backlogS: Math.max(0, (lastSeenMs - lastFix.time) / 1000),
  });
  const stored = rows.map((d) => {
    const l = live.get(d.deviceId);
    // The live group may have seen a newer fix than the fix-store group has written yet.
    const lastFix = l !== undefined && l.fix.time > d.lastFix.time ? l.fix : d.lastFix;
    return { ...d, ...seen(lastFix, Math.max(d.lastSeenMs, l?.receivedAt ?? 0)), stored: true };
  });
  const inDb = new Set(rows.map((d) => d.deviceId));
  const liveOnly = [...live.all()]
    .filter((e) => !inDb.has(e.fix.deviceId))
    .sort((a, b) => (a.fix.deviceId < b.fix.deviceId ? -1 : 1))
    .map((e) => ({ deviceId: e.fix.deviceId, ...seen(e.fix, e.receivedAt), stored: false }));
  return [...stored, ...liveOnly];
}
