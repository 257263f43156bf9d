// Our NMEA decoding against gpsd's, over every capture in ../shared/nmea/gpsd.
// Each NAME.log.chk holds what gpsd decoded from NAME.log; its TPV lines are its position
// reports. For every TPV with mode >= 2, a time and a position whose epoch (same time of
// day) has an RMC or GGA sentence in our decoding, our time, lat and lon must match (1e-6
// degrees), and speed, course and altitude where both report them. Compared per epoch, not
// after the agent's one-fix-a-second rule. Every file must agree exactly; agent/gps/README.md
// says which differences with gpsd stay outside the comparison, and why. Also: we never
// report a fix at a time gpsd says has none.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { decodeLines, splitLines } from '../agent/gps/decode-text.js';
import { DAY_MS, type EpochResult } from '../agent/gps/epoch.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gpsdDir = path.resolve(repoRoot, '../shared/nmea/gpsd');

interface Tpv {
  mode: number;
  time?: string;
  lat?: number;
  lon?: number;
  speed?: number;
  track?: number;
  altMSL?: number;
}

export interface FileReport {
  file: string;
  compared: number;
  matched: number;
  /** TPVs left out because our epoch at that time has neither RMC nor GGA. */
  excluded: number;
  mismatches: string[];
  /** Our fixes at a time for which gpsd printed TPVs, all of them mode 1 (no fix). */
  falseFixes: string[];
  /** Our fixes at a time gpsd printed no timed TPV for (gpsd's own epoch rules). */
  unreported: number;
  /** How many compared TPVs also had speed, course, altitude compared. */
  fields: { speed: number; course: number; alt: number };
}

/**
 * The TPVs of a .chk, each with the sentence types gpsd had read for its time of fix when it
 * printed it. gpsd prints a TPV at what it takes for the end of a cycle, and on receivers that
 * send GGA before RMC that is before the RMC: such a TPV has a speed gpsd computed from the
 * last two positions, not one the receiver sent, and is not compared on speed.
 */
function tpvs(chk: string): Array<Tpv & { seen: Set<string> }> {
  const out: Array<Tpv & { seen: Set<string> }> = [];
  let tod: string | undefined;
  let seen = new Set<string>();
  for (const line of chk.split('\n')) {
    if (line.startsWith('$')) {
      const f = line.split(',');
      const type = f[0]!.slice(3);
      const time =
        type === 'GLL' ? f[5] : ['RMC', 'GGA', 'GNS', 'ZDA', 'GST', 'GBS'].includes(type) ? f[1] : undefined;
      if (time && time !== tod) {
        tod = time;
        seen = new Set();
      }
      seen.add(type);
    } else if (line.startsWith('{"class":"TPV"')) {
      out.push({ ...(JSON.parse(line) as Tpv), seen: new Set(seen) });
    }
  }
  return out;
}

function todOf(iso: string): number {
  return ((Date.parse(iso) % DAY_MS) + DAY_MS) % DAY_MS;
}

export function compareFile(file: string): FileReport {
  const log = readFileSync(path.join(gpsdDir, file), 'latin1');
  const chk = readFileSync(path.join(gpsdDir, `${file}.chk`), 'utf8');
  const { results } = decodeLines(splitLines(log));
  const report: FileReport = {
    file,
    compared: 0,
    matched: 0,
    excluded: 0,
    mismatches: [],
    falseFixes: [],
    unreported: 0,
    fields: { speed: 0, course: 0, alt: 0 },
  };
  const all = tpvs(chk);
  // gpsd prints mode-1 TPVs without a time; give them the time of the sentence before them.
  const modesAt = new Map<number, number[]>();
  for (const tpv of all) {
    if (tpv.time === undefined) continue;
    const tod = todOf(tpv.time);
    modesAt.set(tod, [...(modesAt.get(tod) ?? []), tpv.mode]);
  }
  for (const r of results) {
    if (r.kind !== 'fix') continue;
    const modes = modesAt.get(r.epoch.tod);
    if (!modes) report.unreported++;
    else if (modes.every((m) => m < 2)) report.falseFixes.push(new Date(r.position.time).toISOString());
  }
  let cursor = 0;
  for (const tpv of all) {
    if (tpv.mode < 2 || tpv.time === undefined || tpv.lat === undefined || tpv.lon === undefined) continue;
    const tod = todOf(tpv.time);
    const idx = findEpoch(results, tod, cursor);
    const ours = idx >= 0 ? results[idx] : undefined;
    if (!ours || !(ours.epoch.types.has('RMC') || ours.epoch.types.has('GGA'))) {
      report.excluded++;
      continue;
    }
    cursor = idx;
    report.compared++;
    const why = differ(tpv, ours, tod, report.fields);
    if (why) report.mismatches.push(`${tpv.time}: ${why}`);
    else report.matched++;
  }
  return report;
}

/** Our epoch with this time of day: the first at or after the cursor, else any. */
function findEpoch(results: EpochResult[], tod: number, cursor: number): number {
  for (let i = cursor; i < results.length; i++) if (results[i]!.epoch.tod === tod) return i;
  return results.findIndex((r) => r.epoch.tod === tod);
}

function differ(
  tpv: Tpv & { seen: Set<string> },
  ours: EpochResult,
  tod: number,
  fields: FileReport['fields'],
): string | null {
  if (ours.kind !== 'fix') return `gpsd mode ${tpv.mode}, ours ${ours.reason}`;
  const p = ours.position;
  if (((p.time % DAY_MS) + DAY_MS) % DAY_MS !== tod) return `time ${new Date(p.time).toISOString()}`;
  if (Math.abs(p.lat - tpv.lat!) > 1e-6 || Math.abs(p.lon - tpv.lon!) > 1e-6)
    return `position ours ${p.lat},${p.lon} gpsd ${tpv.lat},${tpv.lon}`;
  // gpsd prints speed with 3 decimals and track with 4.
  const sent = tpv.seen.has('RMC') || tpv.seen.has('VTG');
  if (sent && tpv.speed !== undefined && p.speed !== undefined) {
    fields.speed++;
    if (Math.abs(p.speed - tpv.speed) > 0.0015) return `speed ours ${p.speed} gpsd ${tpv.speed}`;
  }
  if (sent && tpv.track !== undefined && p.course !== undefined) {
    fields.course++;
    if (Math.abs(p.course - tpv.track) > 0.0015) return `course ours ${p.course} gpsd ${tpv.track}`;
  }
  // Altitude above mean sea level, where both have one and gpsd had read the epoch's GGA.
  if (tpv.seen.has('GGA') && tpv.altMSL !== undefined && p.alt !== undefined) {
    fields.alt++;
    if (Math.abs(p.alt - tpv.altMSL) > 0.0015) return `altitude ours ${p.alt} gpsd ${tpv.altMSL}`;
  }
  return null;
}

const files = readdirSync(gpsdDir)
  .filter((f) => f.endsWith('.log'))
  .sort();

t.test('gpsd oracle: every capture', async (t) => {
  t.ok(files.length >= 30, `found ${files.length} captures in ${gpsdDir}`);
  let compared = 0;
  let matched = 0;
  const fields = { speed: 0, course: 0, alt: 0 };
  for (const file of files) {
    const r = compareFile(file);
    compared += r.compared;
    matched += r.matched;
    fields.speed += r.fields.speed;
    fields.course += r.fields.course;
    fields.alt += r.fields.alt;
    const rate = r.compared ? ((100 * r.matched) / r.compared).toFixed(1) : '-';
    t.comment(
      `${file.padEnd(36)} ${r.matched}/${r.compared} match (${rate}%), ${r.excluded} TPVs without RMC/GGA, ` +
        `${r.unreported} of our fixes at times gpsd did not report`,
    );
    t.same(r.falseFixes, [], `${file}: no fix where gpsd says no fix`);
    for (const m of r.mismatches.slice(0, 3)) t.comment(`    ${m}`);
    t.same(r.mismatches, [], `${file}: every compared TPV matches`);
  }
  const overall = compared ? matched / compared : 0;
  t.comment(`overall ${matched}/${compared} = ${(100 * overall).toFixed(2)}%`);
  t.comment(`of which with speed ${fields.speed}, course ${fields.course}, altitude ${fields.alt}`);
  t.ok(compared >= 790, `compared ${compared} TPVs`);
  t.ok(
    fields.speed > 600 && fields.course > 400 && fields.alt > 600,
    'speed, course and altitude really compared',
  );
  t.ok(overall >= 0.99, `overall match rate ${(100 * overall).toFixed(2)}% >= 99%`);
});
