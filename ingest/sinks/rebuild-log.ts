// What the trips group says about its rebuilds. A replayed old capture or a fleet draining its
// backlogs makes nearly every flush rebuild some day, and an info line per flush (about one a
// second) told an operator nothing the counter ingest_trip_days_rebuilt_total does not, and not
// which devices. Now each flush's rebuilds are a debug line naming the devices and days; at info,
// the first rebuild is logged at once and the ones after it are summed into at most one line per
// `everyMs` (default a minute): how many flushes, days and devices, and the first few devices
// with the earliest day rebuilt for each.
import type { Logger } from '../../shared/log.js';
import { monotonicMs } from '../../shared/monotonic.js';
import type { TripApplyResult } from '../db/store.js';

/** Devices named in one line; the rest are counted. */
const NAMED = 10;

interface Summary {
  flushes: number;
  days: number;
  /** Device -> the earliest day rebuilt for it. */
  devices: Map<string, string>;
}

export class RebuildLog {
  private pending: Summary | undefined;
  /** monotonicMs() of the last info line: a wall-clock step back held the next one for the step. */
  private lastInfoAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 60_000,
  ) {}

  note(rebuilt: TripApplyResult['rebuilt']): void {
    if (rebuilt.length === 0) return;
    this.log.debug(
      { devices: named(rebuilt.map((r) => `${r.deviceId} from ${r.fromDay} (${r.days} d)`)) },
      'late or redelivered fixes: trip days rebuilt',
    );
    this.pending ??= { flushes: 0, days: 0, devices: new Map() };
    const s = this.pending;
    s.flushes++;
    for (const r of rebuilt) {
      s.days += r.days;
      const day = s.devices.get(r.deviceId);
      if (day === undefined || r.fromDay < day) s.devices.set(r.deviceId, r.fromDay);
    }
    const wait = this.lastInfoAt + this.everyMs - monotonicMs();
    if (wait <= 0) this.flush();
    else if (!this.timer) {
      // Unref'd: the sink's stopped() writes what is pending when the group stops.
      this.timer = setTimeout(() => this.flush(), wait);
      this.timer.unref();
    }
  }

  /** Writes the summary of the rebuilds since the last info line, if any. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.pending;
    if (!s) return;
    this.pending = undefined;
    this.lastInfoAt = monotonicMs();
    this.log.info(
      {
        flushes: s.flushes,
        recomputedDays: s.days,
        deviceCount: s.devices.size,
        devices: named([...s.devices].map(([id, day]) => `${id} from ${day}`)),
      },
      'late or redelivered fixes: trip days rebuilt',
    );
  }
}

/** The first NAMED entries, and how many more. */
function named(list: string[]): string[] {
  return list.length <= NAMED ? list : [...list.slice(0, NAMED), `and ${list.length - NAMED} more`];
}
