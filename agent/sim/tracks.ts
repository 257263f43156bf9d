// Where simulated devices get their positions: a rider on the street grid, or a real capture
// (NMEA file) played in a loop, shifted a little per device so replayed riders do not overlap.
import { readFileSync } from 'node:fs';
import { StartError } from '../../shared/config.js';
import type { Position } from '../../shared/fix.js';
import { decodeLines, splitLines } from '../gps/decode-text.js';
import { OnePerSecond } from '../gps/positions.js';
import { type Random, seededRandom } from './random.js';
import { type CityGrid, Rider } from './rider.js';

/** One device's source of positions: the next one, stamped with GNSS time `time`. */
export interface Track {
  /** The position at `time`, or null: no fix this second (a silence in a replayed capture). */
  next(time: number): Position | null;
  /** Where the track is, as JSON, so a restarted simulator carries on instead of jumping. */
  snapshot(): unknown;
  /** Carries on from a snapshot of the same kind of track; false when it does not fit. */
  restore(s: unknown): boolean;
}

export function riderTrack(city: CityGrid, rnd: Random): Track {
  const rider = new Rider(city, rnd);
  return {
    next: (time) => rider.step(time),
    snapshot: () => ({ rider: rider.snapshot() }),
    restore: (s) => {
      const r = (s as { rider?: unknown } | null)?.rider;
      return typeof r === 'object' && r !== null && rider.restore(r);
    },
  };
}

/** The fixes of an NMEA capture, one a second, as the agent would read them. */
export function captureFixes(file: string): Position[] {
  const gate = new OnePerSecond();
  const out: Position[] = [];
  decodeLines(splitLines(readFileSync(file, 'latin1')), {}, (r) => {
    if (gate.accept(r) && r.kind === 'fix') out.push(r.position);
  });
  // A bad argument, not a bug: one line (runMain), not a stack trace.
  if (out.length === 0) throw new StartError(`simulate: ${file} has no fixes to replay`);
  return out;
}

/**
 * A capture's silence longer than this is shortened to it when replayed: hours with the receiver
 * off between two recording sessions would leave a simulated rider offline for hours.
 */
export const MAX_REPLAY_GAP_S = 300;

const isWait = (w: unknown): w is number =>
  typeof w === 'number' && Number.isInteger(w) && w >= 0 && w < MAX_REPLAY_GAP_S;

/**
 * Plays `fixes` in a loop from `start`, moved by (dLat, dLon), with times replaced by `time`.
 * The capture's own spacing is kept: after a fix followed by a silence of n seconds (a tunnel,
 * a cold start, a receiver reporting every 2 s) the next n-1 ticks give no fix, so a replayed
 * rider goes quiet where the receiver did instead of jumping across the silence in one second.
 * The loop's wrap back to the first fix is the one step with no wait.
 */
export function replayTrack(fixes: readonly Position[], start: number, dLat: number, dLon: number): Track {
  let i = start % fixes.length;
  /** Ticks left without a fix before fixes[i]. */
  let wait = 0;
  return {
    snapshot: () => ({ replayAt: i, wait }),
    restore(s) {
      const at = (s as { replayAt?: unknown } | null)?.replayAt;
      if (typeof at !== 'number' || !Number.isInteger(at) || at < 0 || at >= fixes.length) return false;
      const w = (s as { wait?: unknown }).wait ?? 0; // snapshots from before the wait have none
      if (!isWait(w)) return false;
      i = at;
      wait = w;
      return true;
    },
    next(time) {
      if (wait > 0) {
        wait--;
        return null;
      }
      const p = fixes[i]!;
      const n = (i + 1) % fixes.length;
      const gapS = n === 0 ? 1 : Math.round((fixes[n]!.time - p.time) / 1000);
      wait = Math.min(Math.max(gapS, 1), MAX_REPLAY_GAP_S) - 1;
      i = n;
      return {
        ...p,
        time,
        lat: Math.max(-90, Math.min(90, p.lat + dLat)),
        lon: ((((p.lon + dLon + 180) % 360) + 360) % 360) - 180,
      };
    },
  };
}

/** Tracks for n devices: riders on the grid, or the given captures round-robin. */
export function fleetTracks(
  n: number,
  seed: number,
  city: CityGrid,
  captures: string[] = [],
  opts: { inCity?: boolean } = {},
): Track[] {
  const rnd = seededRandom(seed);
  const fixes = captures.map(captureFixes);
  const centre = cityCentre(city);
  return Array.from({ length: n }, (_, i) => {
    const f = fixes[i % Math.max(1, fixes.length)];
    if (!f) return riderTrack(city, seededRandom(Math.floor(rnd() * 2 ** 32)));
    // inCity moves the whole capture (its shape and motion kept) onto the simulated city, so a
    // demo map shows real receivers and simulated riders side by side, not a continent apart.
    const base = opts.inCity
      ? { dLat: centre.lat - f[0]!.lat, dLon: centre.lon - f[0]!.lon }
      : { dLat: 0, dLon: 0 };
    return replayTrack(
      f,
      Math.floor(rnd() * f.length),
      base.dLat + (rnd() - 0.5) * 0.01,
      base.dLon + (rnd() - 0.5) * 0.01,
    );
  });
}

function cityCentre(city: CityGrid): { lat: number; lon: number } {
  const halfM = (city.size * city.blockM) / 2;
  const lat = city.lat0 + halfM / 111_320;
  return { lat, lon: city.lon0 + halfM / (111_320 * Math.cos((lat * Math.PI) / 180)) };
}
