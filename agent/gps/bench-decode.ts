// Decode throughput, for `npm run bench`: every capture in a folder, decoded `rounds` times
// through the line filter, sentence decoder and epoch assembler (no I/O inside the timing).
//
//   import { benchGpsDecode, formatGpsDecodeBench } from '../agent/gps/bench-decode.js';
//   console.log(formatGpsDecodeBench(benchGpsDecode()));
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDecode, splitLines } from './decode-text.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_BENCH_DIR = path.join(repoRoot, 'test/fixtures/nmea');

export interface GpsDecodeBench {
  dir: string;
  files: number;
  rounds: number;
  lines: number;
  bytes: number;
  seconds: number;
  linesPerSecond: number;
  bytesPerSecond: number;
  fixes: number;
}

export function benchGpsDecode(opts: { dir?: string; rounds?: number } = {}): GpsDecodeBench {
  const dir = opts.dir ?? DEFAULT_BENCH_DIR;
  const rounds = opts.rounds ?? 50;
  const texts = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'latin1'));
  const lines = texts.flatMap((t) => splitLines(t));
  const bytes = texts.reduce((n, t) => n + t.length, 0);
  benchDecode(lines, 2); // warm-up: let the JIT settle before measuring
  const r = benchDecode(lines, rounds);
  return {
    dir,
    files: texts.length,
    rounds,
    lines: r.lines,
    bytes: bytes * rounds,
    seconds: r.seconds,
    linesPerSecond: r.linesPerSecond,
    bytesPerSecond: (bytes * rounds) / r.seconds,
    fixes: r.fixes,
  };
}

export function formatGpsDecodeBench(b: GpsDecodeBench): string {
  return (
    `gps decode: ${Math.round(b.linesPerSecond).toLocaleString('en')} lines/s, ` +
    `${(b.bytesPerSecond / 1e6).toFixed(1)} MB/s (${b.files} captures x ${b.rounds} rounds, ` +
    `${b.lines} lines, ${b.fixes} fixes, ${b.seconds.toFixed(2)} s)`
  );
}
