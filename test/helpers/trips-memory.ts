// The trips transaction's database side (TripTx) in memory, with the semantics of the two stores'
// SQL, plus a generator of reconnect-like deliveries. Without checkpoints it runs the rebuild from
// 00:00 (the behaviour before checkpoints), which the tests use as the reference.

import { seededRandom } from '../../agent/sim/random.js';
import type { TripApplyResult } from '../../ingest/db/store.js';
import { accumulate, type TripDay } from '../../ingest/trips/accumulate.js';
import { applyTripsTx, type TripState, type TripTx } from '../../ingest/trips/apply.js';
import { Checkpoints } from '../../ingest/trips/checkpoints.js';
import { TripStateCache } from '../../ingest/trips/state-cache.js';
import type { Fix } from '../../shared/fix.js';

const byTime = (a: Fix, b: Fix) => a.time - b.time || a.seq - b.seq;
const copy = <T>(v: T): T => structuredClone(v);

export class MemoryTrips {
  fixes = new Map<string, Map<number, Fix>>();
  states = new Map<string, TripState>();
  /** trip_state.version, apart so that states compare across instances. */
  versions = new Map<string, number>();
  days = new Map<string, Map<string, TripDay>>();
  readonly checkpoints: Checkpoints | undefined;
  /** States kept in memory between transactions (ingest/trips/state-cache.ts), if asked for. */
  readonly cache: TripStateCache | undefined;
  /** Makes transactions fail when they write this device's state, and roll back. */
  failPutStateOf: string | undefined;

  constructor(withCheckpoints: boolean, withCache = false) {
    this.checkpoints = withCheckpoints ? new Checkpoints() : undefined;
    this.cache = withCache ? new TripStateCache() : undefined;
  }

  /**
   * Another process on the same database: the same tables, its own memory (checkpoints, kept
   * states), as two ingest processes sharing the trips group.
   */
  sharing(withCheckpoints: boolean, withCache: boolean): MemoryTrips {
    const other = new MemoryTrips(withCheckpoints, withCache);
    other.fixes = this.fixes;
    other.states = this.states;
    other.versions = this.versions;
    other.days = this.days;
    other.sortedCache = this.sortedCache;
    return other;
  }

  /** What the fix-store group does: store, fold nothing. */
  writeFixes(fixes: readonly Fix[]): number {
    let n = 0;
    for (const f of fixes) {
      const m = this.fixes.get(f.deviceId) ?? new Map<number, Fix>();
      this.fixes.set(f.deviceId, m);
      if (!m.has(f.seq)) {
        m.set(f.seq, copy(f));
        this.sortedCache.delete(f.deviceId);
        n++;
      }
    }
    return n;
  }

  /** One transaction: on error everything it wrote is undone (the checkpoints are not: memory). */
  async applyTrips(fixes: readonly Fix[]): Promise<TripApplyResult> {
    // Only a transaction that is made to fail needs the copy to roll back to.
    const before = this.failPutStateOf
      ? copy({ fixes: this.fixes, states: this.states, versions: this.versions, days: this.days })
      : null;
    const staged = this.cache?.stage();
    try {
      const res = await applyTripsTx(this.tx(staged), fixes);
      staged?.install(); // committed
      return res;
    } catch (e) {
      if (!before) throw e;
      ({ fixes: this.fixes, states: this.states, versions: this.versions, days: this.days } = before);
      this.sortedCache.clear();
      throw e;
    }
  }

  trips(deviceId: string): TripDay[] {
    return [...(this.days.get(deviceId)?.values() ?? [])].sort((a, b) => (a.day < b.day ? -1 : 1)).map(copy);
  }

  private sortedCache = new Map<string, Fix[]>();

  /** The device's fixes in time order (the callers never modify them). */
  private sorted(deviceId: string): Fix[] {
    let s = this.sortedCache.get(deviceId);
    if (!s) {
      s = [...(this.fixes.get(deviceId)?.values() ?? [])].sort(byTime);
      this.sortedCache.set(deviceId, s);
    }
    return s;
  }

  /** Index of the first fix with time >= ms. */
  private firstFrom(deviceId: string, ms: number): number {
    const s = this.sorted(deviceId);
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]!.time < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private tx(cache: TripTx['cache']): TripTx {
    return {
      ...(this.checkpoints ? { checkpoints: this.checkpoints } : {}),
      cache,
      insertFixes: async (fixes) => this.writeFixes(fixes),
      getState: async (id) =>
        this.states.has(id) ? { ...copy(this.states.get(id)!), version: this.versions.get(id)! } : null,
      putStates: async (writes) => {
        const stale = new Set<string>();
        for (const { deviceId: id, state, version } of writes) {
          if (id === this.failPutStateOf) throw new Error('putState failed (test)');
          if (version !== (this.states.has(id) ? this.versions.get(id)! : null)) {
            stale.add(id);
            continue;
          }
          this.states.set(id, copy({ cursor: state.cursor, applied: state.applied }));
          this.versions.set(id, (version ?? 0) + 1);
        }
        return stale;
      },
      getDays: async (id, days) =>
        days.flatMap((d) => (this.days.get(id)?.has(d) ? [copy(this.days.get(id)!.get(d)!)] : [])),
      putDays: async (rows) => {
        for (const r of rows) {
          const m = this.days.get(r.deviceId) ?? new Map<string, TripDay>();
          this.days.set(r.deviceId, m);
          m.set(r.day, copy(r));
        }
      },
      deleteDaysFrom: async (id, day) => {
        for (const d of [...(this.days.get(id)?.keys() ?? [])]) if (d >= day) this.days.get(id)!.delete(d);
      },
      fixesFrom: async (id, fromMs) => this.sorted(id).slice(this.firstFrom(id, fromMs)),
      lastFixBefore: async (id, ms) => this.sorted(id)[this.firstFrom(id, ms) - 1] ?? null,
      fixesFromCounted: async (id, fromMs) => {
        const i = this.firstFrom(id, fromMs);
        return { fixes: this.sorted(id).slice(i), before: i };
      },
    };
  }
}

/** Small deterministic PRNG (the fleet simulator's mulberry32), so a failing seed can be replayed. */
export const prng = seededRandom;

/** One in-order pass over one device's fixes: the rows the trips group must end with, whatever the delivery. */
export function inOrder(fixes: readonly Fix[]): TripDay[] {
  const days = new Map<string, TripDay>();
  accumulate(
    fixes[0]!.deviceId,
    null,
    [...fixes].sort((a, b) => a.time - b.time),
    days,
  );
  return [...days.values()];
}

const M_PER_DEG_LAT = 111_195;

/**
 * One device's fixes at 1 Hz from `start`: driving, parked (scatter up to ~7 m, speed ~0.1), and
 * moves without reported speed, in random spells, with now and then a wild fix kilometres off
 * (one, or two agreeing); seq from 1.
 */
export function route(deviceId: string, n: number, start: number, rnd: () => number): Fix[] {
  const out: Fix[] = [];
  let lat = 48 + rnd();
  let lon = 11 + rnd();
  let mode: 'drive' | 'park' | 'nospeed' = 'drive';
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.01) mode = (['drive', 'park', 'nospeed'] as const)[Math.floor(rnd() * 3)]!;
    const f: Fix = { deviceId, seq: i + 1, time: start + i * 1000, lat, lon, hdop: 0.8 + rnd(), mode: 3 };
    if (rnd() < 0.004) {
      f.lat = lat + (3000 + rnd() * 5000) / M_PER_DEG_LAT;
      f.speed = 100 + rnd() * 500;
      out.push(f);
      if (rnd() < 0.3 && i + 1 < n) {
        i++;
        out.push({ ...f, seq: i + 1, time: f.time + 1000 });
      }
      continue;
    }
    if (mode === 'park') {
      f.lat = lat + ((rnd() - 0.5) * 10) / M_PER_DEG_LAT;
      f.lon = lon + ((rnd() - 0.5) * 10) / M_PER_DEG_LAT;
      f.speed = 0.1;
    } else {
      const v = 3 + rnd() * 12;
      lat += v / M_PER_DEG_LAT;
      lon += ((rnd() - 0.5) * v) / M_PER_DEG_LAT;
      f.lat = lat;
      f.lon = lon;
      if (mode === 'drive') f.speed = v;
    }
    out.push(f);
  }
  return out;
}

export interface Delivery {
  /** What the trips group reads, flush by flush. */
  flushes: Fix[][];
  /** Before flush i, the fix-store group stores these (it may be ahead of trips). */
  storedAhead: Map<number, Fix[]>;
}

/**
 * Devices' fixes as the topic carries them after dead zones: during a dead zone a device's fixes
 * wait in its outbox; after it, the outbox drains oldest first (`drain` a second) while live fixes
 * go on. Some fixes are lost for good, some flushes are delivered twice (redelivery), and now and
 * then fix-store stores a stretch of backlog before trips reads it.
 */
export function reconnects(
  routes: Fix[][],
  rnd: () => number,
  opts: { drain: number; flush: number },
): Delivery {
  const stream: Fix[] = [];
  const outbox = routes.map(() => [] as Fix[]);
  const dead = routes.map(() => false);
  const n = Math.max(...routes.map((r) => r.length));
  for (let i = 0; i < n; i++) {
    routes.forEach((r, d) => {
      const f = r[i];
      if (rnd() < 0.002) dead[d] = !dead[d];
      if (f && rnd() >= 0.01) (dead[d] ? outbox[d]! : stream).push(f);
      if (!dead[d]) stream.push(...outbox[d]!.splice(0, opts.drain));
    });
  }
  for (const box of outbox) stream.push(...box);
  const flushes: Fix[][] = [];
  const storedAhead = new Map<number, Fix[]>();
  for (let i = 0; i < stream.length; ) {
    const size = 1 + Math.floor(rnd() * opts.flush);
    const batch = stream.slice(i, i + size);
    if (rnd() < 0.1) storedAhead.set(flushes.length, stream.slice(i, i + size * 3));
    flushes.push(batch);
    if (rnd() < 0.05) flushes.push(batch.slice(0, Math.ceil(batch.length / 2)));
    i += size;
  }
  return { flushes, storedAhead };
}
