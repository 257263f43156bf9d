// `agent decode FILE`: the fixes of an NMEA capture as JSON lines, one per epoch with a fix,
// fields named as in shared/fix.ts Position, time as ISO-8601 UTC. What was skipped (junk
// bytes, bad checksums, parse errors, epochs without a fix) is summed up on stderr.
import { readFileSync } from 'node:fs';
import { UsageError } from '../../shared/config.js';
import type { Position } from '../../shared/fix.js';
import { decodeLines, splitLines } from '../gps/decode-text.js';
import type { EpochResult } from '../gps/epoch.js';
import { OnePerSecond } from '../gps/positions.js';
import { type Command, isReadableFile, parseCommandArgs } from './command.js';

const help = `usage: npm run agent -- decode FILE [options]

Prints the fixes of an NMEA capture FILE (- reads stdin), e.g. test/fixtures/nmea/*.log, as
JSON lines, one per epoch with a fix: {"time":"2019-02-05T02:09:35.000Z","lat":..,"lon":..,
"alt":..,"speed":..,"course":..,"hdop":..,"sats":..,"mode":3,"quality":1} (speed m/s, course
degrees true; fields the receiver did not send are left out). Binary frames and bad
sentences are skipped; a summary of what was skipped goes to stderr.

options:
  --one-per-second     only the first fix of each UTC second, as the agent sends them
  --nofix              also print epochs without a fix: {"nofix":"no fix","time":..}
  --not-before DATE    dates before DATE (YYYY-MM-DD) are GPS week-rollover victims: add
                       1024 weeks until they are not (default: dates as the receiver sent them)
  --quiet              no summary on stderr
  -h, --help           this text`;

/** A Position as one JSON line: Position's field order, time as ISO-8601. */
export function positionJson(p: Position): string {
  return JSON.stringify({
    time: new Date(p.time).toISOString(),
    lat: p.lat,
    lon: p.lon,
    alt: p.alt,
    speed: p.speed,
    course: p.course,
    hdop: p.hdop,
    sats: p.sats,
    mode: p.mode,
    quality: p.quality,
  });
}

function noFixJson(r: Extract<EpochResult, { kind: 'nofix' }>): string {
  return JSON.stringify({
    nofix: r.reason,
    time: r.time === undefined ? undefined : new Date(r.time).toISOString(),
  });
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'decode',
    args,
    {
      help: { type: 'boolean', short: 'h' },
      'one-per-second': { type: 'boolean' },
      nofix: { type: 'boolean' },
      'not-before': { type: 'string' },
      quiet: { type: 'boolean' },
    },
    { positionals: true },
  );
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('agent decode: give exactly one FILE (see --help)');
  const file = positionals[0]!;
  if (file !== '-' && !isReadableFile(file))
    throw new UsageError(`agent decode: ${file} is not a readable file`);
  let notBefore: number | undefined;
  if (values['not-before'] !== undefined) {
    const day = values['not-before'];
    notBefore = /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(day) : Number.NaN;
    // Date.parse rolls 2020-02-30 over to March: a day that does not exist is refused.
    if (Number.isNaN(notBefore) || new Date(notBefore).toISOString().slice(0, 10) !== day)
      throw new UsageError(`agent decode: --not-before ${values['not-before']} is not a date YYYY-MM-DD`);
  }
  const gate = values['one-per-second'] ? new OnePerSecond() : undefined;
  const out: string[] = [];
  const { lines, decode } = decodeLines(
    splitLines(readFileSync(file === '-' ? 0 : file, 'latin1')),
    { notBefore },
    (r) => {
      if (gate && !gate.accept(r)) return;
      if (r.kind === 'fix') out.push(positionJson(r.position));
      else if (values.nofix) out.push(noFixJson(r));
    },
  );
  await write(out);
  if (!values.quiet) {
    process.stderr.write(
      `decode ${file}: ${decode.fixes} fixes, ${decode.noFixes} epochs without a fix; ` +
        `${lines.sentences} sentences, ${lines.skippedLines} non-NMEA lines (${lines.skippedBytes} bytes skipped), ` +
        `${lines.badChecksums} bad checksums, ${lines.overlongLines} overlong, ${decode.parseErrors} parse errors, ` +
        `${decode.ignored} sentences of unused types\n`,
    );
  }
  return 0;
}

/** Writes in chunks, waiting for the pipe to drain, so `decode big.log | head` works. */
async function write(lines: string[]): Promise<void> {
  for (let i = 0; i < lines.length; i += 1000) {
    const chunk = `${lines.slice(i, i + 1000).join('\n')}\n`;
    if (!process.stdout.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          process.stdout.off('drain', done);
          process.stdout.off('error', done);
          resolve();
        };
        process.stdout.once('drain', done);
        process.stdout.once('error', done);
      });
      if (process.stdout.destroyed) return;
    }
  }
}

export const command: Command = {
  name: 'decode',
  summary: 'print the fixes of an NMEA capture file as JSON lines',
  help,
  run,
};
