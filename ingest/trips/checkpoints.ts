// Checkpoints: where a rebuild can start instead of the day's first fix.
//
// After a dead zone the agent drains its outbox oldest first while live fixes keep coming, so a
// device's backlog reaches the trips group over many flushes, each with fixes older than the
// cursor. A rebuild from the day start for each of them reads the whole day every time
// (bench/trips-reconnect.ts). But a rebuild is a pure function of the stored fixes: the state it
// reaches at time B (day rows so far, cursor, jitter anchor) depends only on the stored fixes
// before B. So that state is remembered just before each hole in the seqs (where the rest of the
// backlog will land) and after the last fix, by rebuilds (fold.ts) and in-order flushes
// (carry.ts), and the next rebuild of that day continues from the latest one before its earliest
// late fix, reading only the fixes from there on. Same additions in the same order: the numbers
// are those of a rebuild from the day start, to the last bit.
//
// A checkpoint holds while the stored fixes before its boundary are the same. Fixes are only ever
// inserted (never updated or deleted; a retention job deleting them would have to change this), so
// counting them is enough: it records how many there were and is used only if the count read with
// the fixes after it (one snapshot) still matches. That covers fixes the fix-store group or another
// ingest process stored meanwhile, and a rebalance that moved the device away and back. And it is
// used only if trip_state.applied has every seq it folded: the transaction that made it committed
// (a rolled-back one could have counted a fix that is gone while another one was stored since).
// The one blind spot: seqs beyond applied's 1000-range cap count as folded anyway (README).
//
// Kept in memory, per database, bounded: lost on restart, when the next rebuild starts at the day
// start again, as it always did.
import type { TripCursor, TripDay } from './accumulate.js';
import type { SeqRanges } from './ranges.js';

export interface Checkpoint {
  /** The day the rebuild started at (00:00 UTC): only a rebuild of that same day may use it. */
  day: string;
  /** The state has folded every stored fix with time < boundary, and none after. */
  boundary: number;
  /** Time from the last fix folded to the next stored one: how much the hole may still take. */
  gapMs: number;
  /** How many stored fixes of the device had time < boundary (any day). */
  before: number;
  cursor: TripCursor;
  /** The rows from `day` on as folded so far. */
  rows: TripDay[];
  /** Seqs of the fixes folded from the day start to the boundary (applied must have them all). */
  seqs: SeqRanges;
}

/** Per device: a reconnect leaves one hole; a few more cover lost fixes earlier in the day. */
export const CHECKPOINTS_PER_DEVICE = 4;
/** Devices remembered; beyond, the least recently flushed are forgotten. */
export const CHECKPOINT_DEVICES = 20_000;
/** A day with more seq holes than this keeps no checkpoints (memory: the seqs are copied). */
export const MAX_CHECKPOINT_RANGES = 1000;

interface DeviceCheckpoints {
  /** Before seq holes, oldest first. */
  holes: Checkpoint[];
  /** After the last fix folded: carried on by the in-order flushes that follow (carry.ts). */
  end: Checkpoint | undefined;
}

export class Checkpoints {
  private readonly byDevice = new Map<string, DeviceCheckpoints>();

  constructor(private readonly maxDevices = CHECKPOINT_DEVICES) {}

  /** The latest checkpoint of a rebuild of `day` whose boundary is at or before `fromMs`. */
  latest(deviceId: string, day: string, fromMs: number): Checkpoint | undefined {
    const d = this.byDevice.get(deviceId);
    let best: Checkpoint | undefined;
    for (const c of d ? [...d.holes, ...(d.end ? [d.end] : [])] : []) {
      if (c.day === day && c.boundary <= fromMs && (!best || c.boundary > best.boundary)) best = c;
    }
    return best;
  }

  /**
   * Replaces the device's checkpoints. Beyond CHECKPOINTS_PER_DEVICE holes it keeps the first one
   * after `frontier` (the latest late fix: a backlog drained oldest first continues there), then
   * those before the widest holes (a dead zone's backlog, not a fix lost here and there).
   */
  set(
    deviceId: string,
    holes: Checkpoint[],
    end: Checkpoint | undefined,
    frontier = Number.NEGATIVE_INFINITY,
  ): void {
    this.byDevice.delete(deviceId); // re-inserted last: the map's order is the eviction order
    if (holes.length === 0 && !end) return;
    let keep = holes;
    if (holes.length > CHECKPOINTS_PER_DEVICE) {
      const next = holes.find((c) => c.boundary > frontier);
      const rest = holes.filter((c) => c !== next).sort((a, b) => b.gapMs - a.gapMs);
      keep = [...(next ? [next] : []), ...rest].slice(0, CHECKPOINTS_PER_DEVICE);
      keep.sort((a, b) => a.boundary - b.boundary);
    }
    this.byDevice.set(deviceId, { holes: keep, end });
    while (this.byDevice.size > this.maxDevices) {
      this.byDevice.delete(this.byDevice.keys().next().value!);
    }
  }

  forget(deviceId: string): void {
    this.byDevice.delete(deviceId);
  }

  holes(deviceId: string): readonly Checkpoint[] {
    return this.byDevice.get(deviceId)?.holes ?? [];
  }

  end(deviceId: string): Checkpoint | undefined {
    return this.byDevice.get(deviceId)?.end;
  }

  get size(): number {
    return this.byDevice.size;
  }
}

const perDatabase = new WeakMap<object, Checkpoints>();

/** The checkpoints of the database `owner` (a store or connection object) writes to. */
export function checkpointsFor(owner: object): Checkpoints {
  let c = perDatabase.get(owner);
  if (!c) {
    c = new Checkpoints();
    perDatabase.set(owner, c);
  }
  return c;
}
