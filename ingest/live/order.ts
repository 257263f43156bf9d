// Which of two fixes of one device is the newer. The live view must follow the rider's real
// movement, so it orders by GNSS time first and the outbox seq second, never by arrival: a
// backlog that a device uploads after it reconnects arrives last but is older, and must not
// move the marker backwards.
import type { Fix } from '../../shared/fix.js';

/** True when `candidate` is a newer position than `current` (or there is no current one). */
export function isNewer(candidate: Fix, current: Fix | undefined): boolean {
  if (current === undefined) return true;
  if (candidate.time !== current.time) return candidate.time > current.time;
  return candidate.seq > current.seq;
}
