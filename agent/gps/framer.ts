// Bytes -> lines, for the serial port and replay files alike:
//   bytes -> LineLengthGuard -> ReadlineParser -> latin1 -> filterLine -> sentence
// ReadlineParser buffers until it sees '\n', without limit; a receiver streaming binary (SiRF
// binary, UBX) may not send one for a long while. The guard cuts any run longer than
// MAX_RUN_BYTES with a '\n' of its own, so memory stays bounded; the cut pieces then fail the
// filter and are counted, and any sentence after the cut survives.
import { Transform, type TransformCallback } from 'node:stream';
import { ReadlineParser } from '@serialport/parser-readline';
import type { Logger } from '../../shared/log.js';
import { filterLine, type LineCounters } from './line-filter.js';
import { RateLimitedWarn } from './rate-limit.js';

export const MAX_RUN_BYTES = 1024;
const NL = 0x0a;
const CUT = Buffer.from('\n');

export class LineLengthGuard extends Transform {
  private run = 0;

  constructor(
    private readonly counters: LineCounters,
    private readonly maxRun = MAX_RUN_BYTES,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(NL, from);
      const end = nl < 0 ? chunk.length : nl + 1;
      const room = this.maxRun - this.run;
      if (end - from <= room || (nl >= 0 && end - from === room + 1)) {
        this.push(chunk.subarray(from, end));
        this.run = nl < 0 ? this.run + (end - from) : 0;
        from = end;
      } else {
        this.push(chunk.subarray(from, from + room));
        this.push(CUT);
        this.counters.overlongLines++;
        this.run = 0;
        from += room;
      }
    }
    cb();
  }
}

export interface Framer {
  /** Write the bytes here; end it when the connection or file ends. */
  input: Transform;
  /** Raw lines as latin1 strings, one per chunk (object mode: for-await must not merge them). */
  output: ReadlineParser;
  /** Filters one raw line: the sentence if it is one with a good checksum, else undefined. */
  accept(line: Buffer | string): string | undefined;
}

/** Builds the chain for one connection (or one pass over a file). */
export function createFramer(counters: LineCounters, log?: Logger, warnEveryMs = 60_000): Framer {
  const input = new LineLengthGuard(counters);
  // Object mode: a byte-mode stream read by for-await hands out everything buffered as one
  // chunk, which would glue lines together again. latin1 (not the default utf8): one char per
  // byte, so binary junk is counted in bytes and never turned into U+FFFD.
  const output = new ReadlineParser({ delimiter: '\n', encoding: 'latin1', readableObjectMode: true });
  const warn = log ? new RateLimitedWarn(log, warnEveryMs) : undefined;
  input.pipe(output);
  return {
    input,
    output,
    accept(raw) {
      // latin1: one char per byte, so binary junk is counted in bytes and never mis-decoded.
      const line = typeof raw === 'string' ? raw : raw.toString('latin1');
      const v = filterLine(line, counters);
      if (v.ok) return v.sentence;
      if (line.length > 1) warn?.warn(v.why, `skipped GPS input: ${v.why}`, { detail: v.detail });
      return undefined;
    },
  };
}
