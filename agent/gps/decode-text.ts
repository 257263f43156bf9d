// Whole-input decoding, for `agent decode FILE`, the gpsd oracle test and the bench:
// raw lines -> line filter -> PositionDecoder -> every epoch result, in order.

import { type DecodeCounters, PositionDecoder, type PositionDecoderOptions } from './decoder.js';
import type { EpochResult } from './epoch.js';
import { filterLine, type LineCounters, newLineCounters } from './line-filter.js';

export interface DecodedText {
  results: EpochResult[];
  lines: LineCounters;
  decode: DecodeCounters;
}

/** Splits a capture (read as latin1, so binary bytes stay one char each) into lines. */
export function splitLines(text: string): string[] {
  return text.split('\n');
}

/** Decodes every line; `onResult` sees each epoch as it closes (the final flush included). */
export function decodeLines(
  lines: Iterable<string>,
  opts: PositionDecoderOptions = {},
  onResult?: (r: EpochResult) => void,
): DecodedText {
  const lineCounters = newLineCounters();
  const decoder = new PositionDecoder(opts);
  const results: EpochResult[] = [];
  const take = (r: EpochResult | undefined) => {
    if (!r) return;
    if (onResult) onResult(r);
    else results.push(r);
  };
  for (const raw of lines) {
    const v = filterLine(raw, lineCounters);
    if (v.ok) take(decoder.push(v.sentence));
  }
  take(decoder.flush());
  return { results, lines: lineCounters, decode: decoder.counters };
}

/**
 * Decode throughput for the bench: decodes `lines` `rounds` times and returns lines/s and
 * the fixes found, so the bench can check it measured real work.
 */
export function benchDecode(
  lines: string[],
  rounds = 20,
): { lines: number; seconds: number; linesPerSecond: number; fixes: number } {
  let fixes = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    decodeLines(lines, {}, (r) => {
      if (r.kind === 'fix') fixes++;
    });
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const n = lines.length * rounds;
  return { lines: n, seconds, linesPerSecond: n / seconds, fixes };
}
