// The trips arithmetic (ingest/trips/accumulate.ts) on real receivers: every capture in
// ../shared/nmea/gpsd (gpsd's test data, BSD-2-Clause), read as the agent reads it (one fix a
// second) and folded in GNSS-time order. Most are a receiver standing on a desk; a few move.
// - Standing (every reported speed below 1 m/s, no silence over 10 s): at most 1 m a capture.
//   Before the Doppler check and the two-reading rule, nl402u's single 0.63 m/s reading added
//   9.6 m (3.8 km per parked hour), motorola-t805's 4-satellite jumps 24.9 m, geos-1m's cold
//   start converging 22.4 m.
// - Moving (a reported speed of 1 m/s or more, no silence): the distance of the steps the
//   receiver reported moving on, within 10%.
// - Max speed: the highest reported speed, always.
// A capture with a silence (blumax-gps009: 155 s; ublox-lea-4h: 67 s after a 3-satellite 2D cold
// start) counts the straight line across it, as the trips README says; only max speed is checked.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { captureFixes } from '../agent/sim/tracks.js';
import { accumulate, haversineM, STOPPED_SPEED_MPS, type TripDay } from '../ingest/trips/accumulate.js';
import type { Fix } from '../shared/fix.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gpsdDir = path.resolve(repoRoot, '../shared/nmea/gpsd');

function fixesOf(file: string): Fix[] {
  let positions: ReturnType<typeof captureFixes>;
  try {
    positions = captureFixes(path.join(gpsdDir, file));
  } catch {
    return []; // no fix in it (binary protocols, receivers without a fix)
  }
  return positions
    .map((p, i) => ({ ...p, deviceId: 'capture', seq: i + 1, mode: p.mode ?? 3 }) as Fix)
    .sort((a, b) => a.time - b.time);
}

t.test('trips on real receivers: standing adds nothing, moving adds its way', async (t) => {
  const files = readdirSync(gpsdDir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  const seen = { standing: 0, moving: 0, silent: 0 };
  for (const file of files) {
    const fixes = fixesOf(file);
    if (fixes.length < 2) continue;
    const days = new Map<string, TripDay>();
    accumulate('capture', null, fixes, days);
    const rows = [...days.values()];
    const distance = rows.reduce((s, r) => s + r.distanceM, 0);
    const moving = rows.reduce((s, r) => s + r.movingS, 0);
    const speeds = fixes.map((f) => f.speed ?? 0);
    const maxSpeed = Math.max(...speeds);
    t.equal(Math.max(...rows.map((r) => r.maxSpeedMps)), maxSpeed, `${file}: max speed as reported`);
    const silence = fixes.some((f, i) => i > 0 && f.time - fixes[i - 1]!.time > 10_000);
    if (silence) {
      seen.silent++;
      continue;
    }
    if (maxSpeed < 1) {
      seen.standing++;
      t.ok(distance <= 1, `${file}: standing, ${distance.toFixed(1)} m (${moving} s moving)`);
      continue;
    }
    seen.moving++;
    let reported = 0;
    for (let i = 1; i < fixes.length; i++) {
      const [a, b] = [fixes[i - 1]!, fixes[i]!];
      if ((b.speed ?? 0) >= STOPPED_SPEED_MPS) reported += haversineM(a.lat, a.lon, b.lat, b.lon);
    }
    t.ok(
      Math.abs(distance - reported) <= 0.1 * reported,
      `${file}: moving, ${distance.toFixed(1)} m against ${reported.toFixed(1)} m of steps reported moving`,
    );
  }
  t.ok(seen.standing >= 25, `${seen.standing} standing captures`);
  t.ok(seen.moving >= 2, `${seen.moving} moving captures`);
  t.comment(`${seen.silent} with a silence: max speed only`);
});
