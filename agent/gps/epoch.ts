// Sentences -> epochs. An epoch is everything the receiver said about one time of fix.
//
// Rules (chosen against gpsd's decoding of the captures in test/fixtures/nmea and
// ../shared/nmea/gpsd, see test/agent-decode-oracle.test.ts):
// - A sentence with a time of fix (RMC, GGA, GLL, GNS, ZDA, GST, GBS) whose time differs from the
//   open epoch's closes that epoch and opens a new one. Sentences without a time (GSA, VTG)
//   join the open epoch; before the first timed sentence they wait for the next epoch.
// - Position: GGA and RMC both give one; where both do, RMC's wins when it has more decimals
//   (receivers round GGA coarser on some chips) and GGA's otherwise, like gpsd's last-writer.
// - Date: RMC or ZDA of the epoch; else carried from the last dated epoch, one day on when the
//   time of day wraps past midnight. Never from the Pi's clock. No date ever seen -> no time.
// - Fix: an epoch is a fix when it has a position and neither RMC (status V or mode N) nor GGA
//   (quality 0) says there is none. Mode from GSA (2 or 3) when present, else 3 when GGA gave an
//   altitude, else 2.
// - Week rollover: with notBefore set, a date before it is moved on by 1024 weeks, which is what
//   old receivers with the GPS week-rollover bug need. Once: a date that one step does not bring
//   to notBefore (1999-08-22, 2019-04-07, 1980-01-06: a receiver's default date at cold start) is
//   no rollover victim but garbage, and repeated steps made it 2038; three such fixes in a row
//   made the outbox take 2038 as "now" and drop the whole backlog as too old. So is a date more
//   than two days ahead of the Pi's clock once that is set (2019-04-07 moved on is 2038). Such a
//   date is ignored: the epoch carries the last good date, as an epoch without one does.
import type { Fix, FixMode, Position } from '../../shared/fix.js';
import { MIN_TIME_MS, validateFix } from '../../shared/fixvalidate.js';
import type { SentenceFacts } from './sentence.js';

export const DAY_MS = 86_400_000;
const ROLLOVER_MS = 1024 * 7 * DAY_MS;

/**
 * notBefore for a device in service: no fix it sees can be older than this code. A receiver
 * with the GPS week-rollover bug reports dates 1024 weeks (19.6 years) early; with this, dates
 * are right from 2026 to 2045. Not for replaying old captures (leave notBefore unset there).
 */
export const IN_SERVICE_NOT_BEFORE = Date.UTC(2026, 0, 1);

/** What the receiver said about one time of fix, merged from its sentences. */
export interface Epoch {
  /** Time of fix, ms since midnight UTC. */
  tod: number;
  /** ms since 1970 of the epoch, when a date is known. */
  time?: number;
  /** Sentence types seen in this epoch (talker stripped), e.g. RMC, GGA, GSA. */
  types: Set<string>;
  lat?: number;
  lon?: number;
  /** Decimal places of the coordinate the position was taken from, to prefer the finer one. */
  precision: number;
  alt?: number;
  speed?: number;
  course?: number;
  hdop?: number;
  sats?: number;
  quality?: number;
  gsaMode?: 1 | 2 | 3;
  /** Some sentence said "no fix". */
  noFix: boolean;
  /** Some sentence said "fix". */
  fixSeen: boolean;
}

export type EpochResult =
  | { kind: 'fix'; position: Position; epoch: Epoch }
  | { kind: 'nofix'; reason: 'no fix' | 'no position' | 'no date'; time?: number; epoch: Epoch };

export interface EpochAssemblerOptions {
  /**
   * Dates before this (ms since 1970) are taken as GPS week-rollover victims and moved on by
   * 1024 weeks. Leave unset to report dates as sent (e.g. to decode old captures).
   */
  notBefore?: number;
  /**
   * The Pi's clock (default Date.now), with notBefore: once it reads past notBefore (set by NTP;
   * without an RTC it starts in 1970), a date more than two days ahead of it is garbage too.
   */
  clock?: () => number;
}

/** How far a fix's date may be ahead of a set Pi clock (time zones, a clock somewhat behind). */
const AHEAD_OF_CLOCK_MS = 2 * DAY_MS;

export class EpochAssembler {
  private open: Epoch | undefined;
  /** Timeless facts seen before any timed sentence. */
  private pending: SentenceFacts[] = [];
  /** Last known day (ms at 00:00 UTC) and the time of day it belonged to. */
  private lastDay: number | undefined;
  private lastTod = 0;
  private readonly notBefore: number | undefined;
  private readonly clock: () => number;

  constructor(opts: EpochAssemblerOptions = {}) {
    this.notBefore = opts.notBefore;
    this.clock = opts.clock ?? Date.now;
  }

  /** Adds one sentence's facts (or just a time of fix); returns the epoch it closed, if any. */
  push(facts: SentenceFacts): EpochResult | undefined {
    let closed: EpochResult | undefined;
    if (facts.tod !== undefined && (!this.open || this.open.tod !== facts.tod)) {
      closed = this.close();
      this.open = this.newEpoch(facts.tod);
      for (const p of this.pending) this.merge(this.open, p);
      this.pending = [];
    }
    if (this.open) this.merge(this.open, facts);
    else this.pending.push(facts);
    return closed;
  }

  /** Closes the open epoch (end of input, or the receiver went quiet after its burst). */
  flush(): EpochResult | undefined {
    return this.close();
  }

  /** True when an epoch is open and would be emitted by flush(). */
  get hasOpenEpoch(): boolean {
    return this.open !== undefined;
  }

  private newEpoch(tod: number): Epoch {
    return { tod, types: new Set(), precision: -1, noFix: false, fixSeen: false };
  }

  private merge(e: Epoch, f: SentenceFacts): void {
    e.types.add(f.type);
    if (f.lat !== undefined && f.lon !== undefined) {
      // The finer of two positions wins; on a tie the later one, as in gpsd.
      const p = f.precision ?? 0;
      if (p >= e.precision) {
        e.lat = f.lat;
        e.lon = f.lon;
        e.precision = p;
      }
    }
    if (f.day !== undefined && e.time === undefined) {
      const day = this.rollover(f.day);
      if (day !== undefined) e.time = day + e.tod;
    }
    if (f.fix === false) e.noFix = true;
    if (f.fix === true) e.fixSeen = true;
    if (f.alt !== undefined) e.alt = f.alt;
    if (f.speed !== undefined && (e.speed === undefined || f.type === 'RMC')) e.speed = f.speed;
    if (f.course !== undefined && (e.course === undefined || f.type === 'RMC')) e.course = f.course;
    if (f.hdop !== undefined && (e.hdop === undefined || f.type === 'GGA')) e.hdop = f.hdop;
    if (f.sats !== undefined) e.sats = f.sats;
    if (f.quality !== undefined) e.quality = f.quality;
    if (f.gsaMode !== undefined)
      e.gsaMode = e.gsaMode === undefined ? f.gsaMode : (Math.max(e.gsaMode, f.gsaMode) as 1 | 2 | 3);
  }

  /**
   * The date, moved on by one week rollover if it needs it; undefined when one is not enough, or
   * when the result is ahead of a set Pi clock (2019-04-07, week 0 of this GPS era, moved on is
   * 2038: a default date, not a victim).
   */
  private rollover(day: number): number | undefined {
    if (this.notBefore === undefined) return day;
    const d = day >= this.notBefore - DAY_MS ? day : day + ROLLOVER_MS;
    if (d < this.notBefore - DAY_MS) return undefined;
    const now = this.clock();
    if (now >= this.notBefore && d > now + AHEAD_OF_CLOCK_MS) return undefined;
    return d;
  }

  private close(): EpochResult | undefined {
    const e = this.open;
    if (!e) return undefined;
    this.open = undefined;
    if (e.time !== undefined) {
      this.lastDay = e.time - e.tod;
    } else if (this.lastDay !== undefined) {
      // Carry the date; a time of day well before the last one means midnight passed.
      const day = e.tod < this.lastTod - DAY_MS / 2 ? this.lastDay + DAY_MS : this.lastDay;
      e.time = day + e.tod;
      this.lastDay = day;
    }
    this.lastTod = e.tod;
    return toResult(e);
  }
}

const OPTIONAL = ['alt', 'speed', 'course', 'hdop', 'sats', 'quality'] as const;
const PROBE: Fix = { deviceId: 'probe', seq: 1, time: MIN_TIME_MS, lat: 0, lon: 0, mode: 2 };

/** Asks shared/fixvalidate.ts (the one definition of a valid fix) about one field alone. */
function rejects(value: number, field: 'time' | (typeof OPTIONAL)[number]): boolean {
  return validateFix({ ...PROBE, [field]: value }) !== null;
}

export function toResult(e: Epoch): EpochResult {
  if (e.lat === undefined || e.lon === undefined) {
    return {
      kind: 'nofix',
      reason: e.noFix || !e.fixSeen ? 'no fix' : 'no position',
      time: e.time,
      epoch: e,
    };
  }
  if (e.noFix || !e.fixSeen) return { kind: 'nofix', reason: 'no fix', time: e.time, epoch: e };
  if (e.time === undefined) return { kind: 'nofix', reason: 'no date', epoch: e };
  const mode: FixMode =
    e.gsaMode === 2 || e.gsaMode === 3 ? e.gsaMode : e.alt !== undefined && e.types.has('GGA') ? 3 : 2;
  const position: Position = { time: e.time, lat: e.lat, lon: e.lon, mode };
  if (e.alt !== undefined && mode === 3) position.alt = e.alt;
  if (e.speed !== undefined) position.speed = e.speed;
  if (e.course !== undefined) position.course = e.course;
  if (e.hdop !== undefined) position.hdop = e.hdop;
  if (e.sats !== undefined) position.sats = e.sats;
  if (e.quality !== undefined) position.quality = e.quality;
  if (rejects(position.time, 'time')) return { kind: 'nofix', reason: 'no date', epoch: e };
  // A field the cloud would reject (a 999-knot speed from a glitching receiver) must not cost
  // the whole fix: leave that field out and keep the position.
  for (const k of OPTIONAL) if (position[k] !== undefined && rejects(position[k], k)) delete position[k];
  return { kind: 'fix', position, epoch: e };
}
