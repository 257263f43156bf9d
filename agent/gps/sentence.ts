// One NMEA sentence -> the facts it states about one epoch, or a reason it is unusable.
//
// nmea-simple does the sentence parsing and checksum validation, but it is not safe to use
// its numbers as they come: empty fields become 0 (an empty latitude is "null island"), an
// empty hemisphere becomes South/West, GGA times take their date from the Pi's clock and
// 3-decimal RMC times lose their milliseconds. So each value is taken from nmea-simple only
// when the raw field is present and well formed, and time and date are read from the raw
// fields here. Nothing in this file throws: every failure is a returned reason.
import { parseNmeaSentence } from 'nmea-simple';

export const KNOT_MS = 1852 / 3600;

/** Sentence types that carry a time of fix and so mark which epoch a sentence belongs to. */
const TIMED_TYPES = new Set(['RMC', 'GGA', 'GLL', 'GNS', 'ZDA', 'GST', 'GBS']);
/** Sentence types the epoch assembler reads; everything else is recognised but ignored. */
const USED_TYPES = new Set(['RMC', 'GGA', 'GSA', 'VTG', 'ZDA']);

export interface SentenceFacts {
  /** Sentence type without talker: RMC, GGA, ... */
  type: string;
  /** Talker id: GP, GN, GL, GA, GB, BD, ... ("P" for proprietary). */
  talker: string;
  /** Time of fix, ms since 00:00 UTC of its day. */
  tod?: number;
  /** The day, as ms at 00:00 UTC; from RMC (2-digit year) or ZDA. */
  day?: number;
  lat?: number;
  lon?: number;
  /** Decimal places of the latitude/longitude minutes as sent, to prefer the finer of two. */
  precision?: number;
  /** true: this sentence says there is a fix; false: it says there is none. */
  fix?: boolean;
  /** GGA quality indicator. */
  quality?: number;
  sats?: number;
  hdop?: number;
  alt?: number;
  /** m/s */
  speed?: number;
  /** degrees true, 0 <= course < 360 */
  course?: number;
  /** GSA fix mode: 1 none, 2 2D, 3 3D. */
  gsaMode?: 1 | 2 | 3;
}

export type SentenceResult =
  | { kind: 'facts'; facts: SentenceFacts }
  /** A valid sentence of a type the assembler does not use (GSV, TXT, proprietary...). */
  | { kind: 'ignored'; type: string; tod?: number }
  | { kind: 'error'; reason: string };

const TIME_RE = /^(\d{2})(\d{2})(\d{2}(?:\.\d+)?)$/;

/** hhmmss[.sss] -> ms since midnight, or undefined for an empty or malformed field. */
export function parseTimeOfDay(field: string | undefined): number | undefined {
  const m = field ? TIME_RE.exec(field) : null;
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  const s = Number(m[3]);
  // 60 is a leap second; receivers do send it.
  if (h > 23 || min > 59 || s >= 61) return undefined;
  return Math.round(((h * 60 + min) * 60 + s) * 1000);
}

function dayOf(y: number, mo: number, d: number): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  const t = Date.UTC(y, mo - 1, d);
  // Reject 31 February and friends instead of letting Date roll them over.
  return new Date(t).getUTCDate() === d ? t : undefined;
}

/**
 * RMC ddmmyy. Two-digit years: 80..99 are 1980..1999 (GPS time starts 1980), 00..79 are
 * 2000..2079. A receiver with a GPS week-rollover bug sends a date 1024 weeks early; that is
 * corrected later (EpochAssembler's notBefore), not here.
 */
export function parseRmcDate(field: string | undefined): number | undefined {
  const m = field ? /^(\d{2})(\d{2})(\d{2}|\d{4})$/.exec(field) : null;
  if (!m) return undefined;
  let y = Number(m[3]);
  if (m[3]!.length === 2) y += y >= 80 ? 1900 : 2000;
  return dayOf(y, Number(m[2]), Number(m[1]));
}

const NUM_RE = /^[-+]?\d+(?:\.\d*)?$|^[-+]?\.\d+$/;
function num(field: string | undefined): number | undefined {
  return field && NUM_RE.test(field) ? Number(field) : undefined;
}

const COORD_RE = /^\d+(?:\.\d+)?$/;
/** A coordinate is used only with its hemisphere letter and with minutes below 60. */
function coord(value: number, field: string | undefined, hemi: string | undefined, pos: string, max: number) {
  if (!field || !COORD_RE.test(field) || (hemi !== pos[0] && hemi !== pos[1])) return undefined;
  const whole = Number(field);
  if (whole % 100 >= 60 || !Number.isFinite(value) || Math.abs(value) > max) return undefined;
  return value;
}

function precision(lat: string | undefined, lon: string | undefined): number {
  const places = (s: string | undefined) => {
    const dot = s ? s.indexOf('.') : -1;
    return dot < 0 ? 0 : s!.length - dot - 1;
  };
  return Math.min(places(lat), places(lon));
}

function course(v: number | undefined): number | undefined {
  if (v === undefined || v < 0 || v > 360) return undefined;
  return v === 360 ? 0 : v;
}

function speed(knots: number | undefined): number | undefined {
  return knots === undefined || knots < 0 ? undefined : knots * KNOT_MS;
}

/**
 * Decodes one sentence whose checksum the line filter has already checked (nmea-simple
 * checks it again). Never throws.
 */
export function decodeSentence(sentence: string): SentenceResult {
  const star = sentence.lastIndexOf('*');
  const fields = (star >= 0 ? sentence.slice(0, star) : sentence).split(',');
  const head = fields[0] ?? '';
  const proprietary = head[1] === 'P';
  const talker = proprietary ? 'P' : head.slice(1, 3);
  const type = proprietary ? head.slice(2) : head.slice(3);
  if (!USED_TYPES.has(type)) {
    // Still worth its time of fix: a GLL or GNS closes the epoch like an RMC would.
    return { kind: 'ignored', type, tod: TIMED_TYPES.has(type) ? timeField(type, fields) : undefined };
  }
  let packet: ReturnType<typeof parseNmeaSentence>;
  try {
    packet = parseNmeaSentence(sentence);
  } catch (e) {
    return { kind: 'error', reason: `${type}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const f = (i: number) => fields[i];
  try {
    switch (packet.sentenceId) {
      case 'RMC': {
        const tod = parseTimeOfDay(f(1));
        if (tod === undefined) return { kind: 'error', reason: `RMC: bad time ${JSON.stringify(f(1))}` };
        // Status A = valid; the NMEA 2.3 mode indicator N (not valid) overrides it. The NMEA 4.1
        // navigational status (field 13) is not about the fix: u-blox always sends V there
        // ("no navigational status"), on every good fix (gpsd's captures confirm it).
        const fix = f(2) === 'A' && f(12) !== 'N';
        return {
          kind: 'facts',
          facts: {
            type,
            talker,
            tod,
            day: parseRmcDate(f(9)),
            lat: coord(packet.latitude, f(3), f(4), 'NS', 90),
            lon: coord(packet.longitude, f(5), f(6), 'EW', 180),
            precision: precision(f(3), f(5)),
            fix,
            speed: num(f(7)) === undefined ? undefined : speed(packet.speedKnots),
            course: num(f(8)) === undefined ? undefined : course(packet.trackTrue),
          },
        };
      }
      case 'GGA': {
        const tod = parseTimeOfDay(f(1));
        if (tod === undefined) return { kind: 'error', reason: `GGA: bad time ${JSON.stringify(f(1))}` };
        const quality = num(f(6));
        const sats = num(f(7)) === undefined ? undefined : packet.satellitesInView;
        // Quality > 0 with no satellite used is a receiver repeating a stale or made-up
        // position (Garmin 25LP, Hemisphere at start-up); gpsd calls it no fix, and so do we.
        const fix = quality === undefined ? undefined : quality > 0 && sats !== 0;
        return {
          kind: 'facts',
          facts: {
            type,
            talker,
            tod,
            lat: coord(packet.latitude, f(2), f(3), 'NS', 90),
            lon: coord(packet.longitude, f(4), f(5), 'EW', 180),
            precision: precision(f(2), f(4)),
            quality,
            fix,
            sats,
            hdop: num(f(8)) === undefined ? undefined : packet.horizontalDilution,
            alt: num(f(9)) === undefined ? undefined : packet.altitudeMeters,
          },
        };
      }
      case 'GSA': {
        const m = num(f(2));
        return {
          kind: 'facts',
          facts: {
            type,
            talker,
            gsaMode: m === 1 || m === 2 || m === 3 ? m : undefined,
            hdop: num(f(16)) === undefined ? undefined : packet.HDOP,
          },
        };
      }
      case 'VTG': {
        // Speed in knots, else km/h; a VTG whose mode indicator is N carries nothing valid.
        if (f(9) === 'N') return { kind: 'facts', facts: { type, talker } };
        const kn = num(f(5));
        const kmh = num(f(7));
        return {
          kind: 'facts',
          facts: {
            type,
            talker,
            speed:
              kn !== undefined
                ? speed(packet.speedKnots)
                : kmh !== undefined && kmh >= 0
                  ? kmh / 3.6
                  : undefined,
            course: num(f(1)) === undefined ? undefined : course(packet.trackTrue),
          },
        };
      }
      case 'ZDA': {
        const tod = parseTimeOfDay(f(1));
        if (tod === undefined) return { kind: 'error', reason: `ZDA: bad time ${JSON.stringify(f(1))}` };
        const d = num(f(2));
        const mo = num(f(3));
        const y = num(f(4));
        const day = d && mo && y && /^\d{4}$/.test(f(4)!) ? dayOf(y, mo, d) : undefined;
        return { kind: 'facts', facts: { type, talker, tod, day } };
      }
      default:
        return { kind: 'ignored', type };
    }
  } catch (e) {
    return { kind: 'error', reason: `${type}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** The time of fix a sentence carries (RMC, GGA, GLL, ...), without decoding the rest. */
export function timeOfFix(sentence: string): number | undefined {
  const fields = sentence.split(',', 7);
  const head = fields[0] ?? '';
  const type = head[1] === 'P' ? '' : head.slice(3);
  return TIMED_TYPES.has(type) ? timeField(type, fields) : undefined;
}

function timeField(type: string, fields: string[]): number | undefined {
  // GLL carries its time in field 5; the others in field 1.
  return parseTimeOfDay(fields[type === 'GLL' ? 5 : 1]);
}
