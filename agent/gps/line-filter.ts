// Raw lines from the serial port (or a capture file) -> NMEA sentences with a good checksum.
//
// A serial line from a GPS carries more than NMEA: binary protocol frames (u-blox UBX, SiRF
// binary, ...) that happen to contain 0x0A, half sentences after a replug, line noise. A
// sentence starts at its '$', so whatever precedes the last '$' of a line is junk and is
// skipped and counted; the rest must be printable ASCII, end in *hh and pass its checksum.
// Lines arrive as latin1 strings so that one char is one byte and the counts are bytes.

/** NMEA 0183 says 82 chars; real receivers send longer proprietary sentences (PASHR ~105). */
export const MAX_SENTENCE_CHARS = 240;

export interface LineCounters {
  /** Lines handed in. */
  lines: number;
  /** Sentences that passed (checksum good). */
  sentences: number;
  /** Lines with no sentence in them at all (binary, comments, noise). */
  skippedLines: number;
  /** Bytes thrown away: junk before a sentence, and whole skipped lines. */
  skippedBytes: number;
  /** Sentences whose checksum is wrong or missing. */
  badChecksums: number;
  /** Lines cut or dropped for being too long to be NMEA. */
  overlongLines: number;
}

export function newLineCounters(): LineCounters {
  return { lines: 0, sentences: 0, skippedLines: 0, skippedBytes: 0, badChecksums: 0, overlongLines: 0 };
}

export type LineVerdict =
  | { ok: true; sentence: string }
  | { ok: false; why: 'no sentence' | 'bad checksum' | 'overlong'; detail: string };

const SENTENCE_RE = /^\$[A-Z0-9]{3,10},[\x20-\x7e]*\*[0-9A-Fa-f]{2}$/;

/** XOR of the chars between '$' and '*'. */
export function nmeaChecksum(body: string): number {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x;
}

/**
 * Checks one line and updates the counters. Pure apart from the counters; never throws.
 */
export function filterLine(raw: string, c: LineCounters): LineVerdict {
  c.lines++;
  // Strip the line end (CR, and the LF if a caller kept it) and trailing blanks.
  let end = raw.length;
  while (
    end > 0 &&
    (raw.charCodeAt(end - 1) === 13 || raw.charCodeAt(end - 1) === 10 || raw.charCodeAt(end - 1) === 32)
  )
    end--;
  const start = raw.lastIndexOf('$', end - 1);
  if (start < 0) {
    if (end > 0) {
      c.skippedLines++;
      c.skippedBytes += end;
    }
    return { ok: false, why: 'no sentence', detail: preview(raw.slice(0, end)) };
  }
  c.skippedBytes += start;
  const s = raw.slice(start, end);
  if (s.length > MAX_SENTENCE_CHARS) {
    c.overlongLines++;
    c.skippedBytes += s.length;
    return { ok: false, why: 'overlong', detail: `${s.length} chars: ${preview(s)}` };
  }
  if (!SENTENCE_RE.test(s)) {
    // A '$' followed by something that is not a whole sentence: a cut-off or corrupted one.
    if (/^\$[A-Z0-9]{3,10},/.test(s)) {
      c.badChecksums++;
      c.skippedBytes += s.length;
      return { ok: false, why: 'bad checksum', detail: `malformed or no checksum: ${preview(s)}` };
    }
    c.skippedLines++;
    c.skippedBytes += s.length;
    return { ok: false, why: 'no sentence', detail: preview(s) };
  }
  const star = s.length - 3;
  const want = Number.parseInt(s.slice(star + 1), 16);
  const got = nmeaChecksum(s.slice(1, star));
  if (want !== got) {
    c.badChecksums++;
    c.skippedBytes += s.length;
    return { ok: false, why: 'bad checksum', detail: `got ${hex(got)} want ${hex(want)}: ${preview(s)}` };
  }
  c.sentences++;
  return { ok: true, sentence: s };
}

function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

/** A log-safe excerpt: printable ASCII only, binary shown as dots. */
export function preview(s: string, max = 80): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  return cut.replace(/[^\x20-\x7e]/g, '.');
}
