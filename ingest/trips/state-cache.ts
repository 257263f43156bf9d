// Each device's trip state and current day row, kept in memory after a commit, so the common
// in-order flush reads nothing back: it folds its fixes onto the kept state and only writes.
//
// Whether the kept state is still the stored one is checked by the write itself: trip_state has a
// version that every write bumps, and a write goes through only `WHERE version = <the kept one>`
// (apply.ts, TripTx.putStates). Another process (a rebalance moved the device's partition there
// and back) or anything else that wrote the device since makes that write change nothing; the
// device is then read back from the database and done again in the same transaction.
//
// Only committed data gets in: a transaction stages its entries (StagedTrips) and the store
// installs them after its COMMIT succeeded; on rollback they are dropped with it, and the entries
// kept from before still match the database. Entries are never modified once kept: a transaction
// copies what it folds onto.
import type { TripDay } from './accumulate.js';
import type { TripState } from './apply.js';

export interface CachedTrips {
  state: TripState;
  /** trip_state.version as this state was committed with. */
  version: number;
  /**
   * Stored rows of some of the device's days (the day of the last flush; two around midnight).
   * A day not here is read from the database, never taken as empty.
   */
  days: readonly TripDay[];
}

/** An entry to keep: the state without anything else a stored one carries. */
export function keep(s: TripState, version: number, days: readonly TripDay[]): CachedTrips {
  return { state: { cursor: s.cursor, applied: s.applied }, version, days };
}

/** Devices kept; beyond, the least recently written are forgotten. */
export const TRIP_CACHE_DEVICES = 100_000;
/** `applied` ranges kept over all devices (a device with many lost fixes has many). */
export const TRIP_CACHE_RANGES = 1_000_000;

export class TripStateCache {
  private readonly byDevice = new Map<string, CachedTrips>();
  private ranges = 0;

  constructor(
    private readonly maxDevices = TRIP_CACHE_DEVICES,
    private readonly maxRanges = TRIP_CACHE_RANGES,
  ) {}

  get(deviceId: string): CachedTrips | undefined {
    return this.byDevice.get(deviceId);
  }

  /** A transaction's entries, to install once it committed. */
  stage(): StagedTrips {
    return new StagedTrips(this);
  }

  /** Replaces (or, null, forgets) a device's entry; the map's order is the eviction order. */
  put(deviceId: string, entry: CachedTrips | null): void {
    const old = this.byDevice.get(deviceId);
    if (old) {
      this.ranges -= old.state.applied.length;
      this.byDevice.delete(deviceId);
    }
    if (!entry) return;
    this.byDevice.set(deviceId, entry);
    this.ranges += entry.state.applied.length;
    while (this.byDevice.size > this.maxDevices || this.ranges > this.maxRanges) {
      const [id, e] = this.byDevice.entries().next().value!;
      this.ranges -= e.state.applied.length;
      this.byDevice.delete(id);
    }
  }

  clear(): void {
    this.byDevice.clear();
    this.ranges = 0;
  }

  get size(): number {
    return this.byDevice.size;
  }
}

/** One transaction's view: its own staged entries over the committed ones. */
export class StagedTrips {
  private readonly changes = new Map<string, CachedTrips | null>();

  constructor(private readonly cache: TripStateCache) {}

  get(deviceId: string): CachedTrips | undefined {
    const c = this.changes.get(deviceId);
    return c === undefined ? this.cache.get(deviceId) : (c ?? undefined);
  }

  set(deviceId: string, entry: CachedTrips): void {
    this.changes.set(deviceId, entry);
  }

  /** The kept entry proved stale: forgotten whether or not this transaction commits. */
  drop(deviceId: string): void {
    this.changes.set(deviceId, null);
    this.cache.put(deviceId, null);
  }

  /** Call after COMMIT succeeded, never otherwise. */
  install(): void {
    for (const [id, e] of this.changes) this.cache.put(id, e);
    this.changes.clear();
  }
}
