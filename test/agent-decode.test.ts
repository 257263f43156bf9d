// `npm run agent -- decode FILE` run as a real child process, and the bench entry point.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { benchGpsDecode, formatGpsDecodeBench } from '../agent/gps/bench-decode.js';
import { benchDecode, decodeLines, splitLines } from '../agent/gps/decode-text.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(repoRoot, 'test/fixtures/nmea');

function agent(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'agent/main.ts', ...args],
      { cwd: repoRoot, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

t.test('decode prints one JSON line per epoch with a fix, named as Position', async (t) => {
  const r = await agent('decode', path.join(fixtures, 'bu353-glonass.log'));
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.length, 9, 'the capture has 9 epochs with a fix, then loses it');
  t.same(JSON.parse(lines[1]!), {
    time: '2014-05-26T08:14:12.000Z',
    lat: 55 + 41.1956 / 60,
    lon: 37 + 37.2877 / 60,
    alt: 66.2,
    speed: 0.52 * (1852 / 3600),
    course: 301.26,
    hdop: 4.87,
    sats: 5,
    mode: 3,
    quality: 1,
  });
  for (const l of lines) t.match(JSON.parse(l).time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.match(r.stderr, /9 fixes, 10 epochs without a fix/);
});

t.test('decode - reads the capture from stdin', async (t) => {
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'agent/main.ts', 'decode', '--quiet', '-'],
      { cwd: repoRoot },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
    child.stdin!.end(readFileSync(path.join(fixtures, 'bu353-glonass.log')));
  });
  t.equal(out.trim().split('\n').length, 9);
});

t.test('decode skips binary frames and reports what it skipped', async (t) => {
  const file = path.join(fixtures, 'ac12_binary.log');
  const r = await agent('decode', file);
  t.equal(r.code, 0);
  const direct = decodeLines(splitLines(readFileSync(file, 'latin1')));
  const fixes = direct.results.filter((x) => x.kind === 'fix').length;
  t.ok(fixes >= 5, `${fixes} fixes`);
  t.equal(r.stdout.trim().split('\n').length, fixes);
  t.ok(direct.lines.skippedBytes > 400, `${direct.lines.skippedBytes} binary bytes skipped`);
  t.match(r.stderr, new RegExp(`${direct.lines.skippedBytes} bytes skipped`));
});

t.test('decode options: --one-per-second on a 2 Hz capture, --nofix', async (t) => {
  const file = path.join(fixtures, 'hemi.log');
  const all = (await agent('decode', '--quiet', file)).stdout.trim().split('\n');
  const one = (await agent('decode', '--quiet', '--one-per-second', file)).stdout.trim().split('\n');
  const seconds = new Set(all.map((l) => (JSON.parse(l).time as string).slice(0, 19)));
  t.ok(all.length > one.length, `${all.length} epochs, ${one.length} seconds`);
  t.equal(one.length, seconds.size, 'one fix for each second that has one');
  // The first fix of each second: the one on the whole second, unless that epoch had no fix
  // (19:40:57.000 here, so 57.500 stands in).
  const firstOf = new Map<string, string>();
  for (const l of all) {
    const time = JSON.parse(l).time as string;
    if (!firstOf.has(time.slice(0, 19))) firstOf.set(time.slice(0, 19), time);
  }
  t.same(
    one.map((l) => JSON.parse(l).time),
    [...firstOf.values()],
  );
  t.equal(JSON.parse(one[0]!).time, '2018-09-07T19:40:57.500Z');
  t.ok(one.slice(1).every((l) => (JSON.parse(l).time as string).endsWith('.000Z')));
  const nofix = await agent('decode', '--nofix', '--quiet', path.join(fixtures, 'ublox-lea-5q.log'));
  const statuses = nofix.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.ok(statuses.length > 5);
  t.ok(
    statuses.every((s) => s.nofix === 'no fix'),
    'a receiver without a fix gives statuses only',
  );
});

t.test('decode and the dispatcher reject bad command lines with one clear line', async (t) => {
  const missing = await agent('decode', '/nonexistent/x.log');
  t.equal(missing.code, 2);
  t.equal(missing.stderr.trim(), 'agent decode: /nonexistent/x.log is not a readable file');
  const badOpt = await agent('decode', '--frobnicate', 'x');
  t.equal(badOpt.code, 2);
  t.equal(badOpt.stderr, 'agent decode: unknown option --frobnicate (see --help)\n');
  // Node's own text for a negative number was three lines about an "ambiguous" argument.
  const negative = await agent('simulate', '--devices', '-1');
  t.equal(negative.code, 2);
  t.equal(
    negative.stderr,
    'agent simulate: --devices needs a value (one starting with a dash is written --devices=-1) (see --help)\n',
  );
  t.notMatch(badOpt.stderr, /\n\s+at /, 'no stack trace');
  const badDate = await agent('decode', '--not-before', '2020-13-45', path.join(fixtures, 'hemi.log'));
  t.equal(badDate.code, 2);
  t.match(badDate.stderr, /--not-before 2020-13-45 is not a date/);
  // Date.parse would take it as 2020-03-01.
  const noSuchDay = await agent('decode', '--not-before', '2020-02-30', path.join(fixtures, 'hemi.log'));
  t.equal(noSuchDay.code, 2);
  t.match(noSuchDay.stderr, /--not-before 2020-02-30 is not a date/);
  const unknown = await agent('frobnicate');
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "frobnicate"; commands: decode/);
  const help = await agent('--help');
  t.equal(help.code, 0);
  t.match(help.stdout, /decode\s+print the fixes/);
  const decodeHelp = await agent('decode', '--help');
  t.equal(decodeHelp.code, 0);
  t.match(decodeHelp.stdout, /usage: npm run agent -- decode FILE/);
});

t.test('decode --not-before corrects GPS week rollover', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-decode-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A receiver with the rollover bug in 2024 reports 1024 weeks earlier: 2005-02-20.
  const file = path.join(dir, 'old.log');
  writeFileSync(file, '$GPRMC,120000,A,4221.3871,N,01322.0800,E,000.0,000.0,200205,001.4,E*77\n');
  const asSent = await agent('decode', '--quiet', file);
  t.equal(JSON.parse(asSent.stdout).time, '2005-02-20T12:00:00.000Z');
  const fixed = await agent('decode', '--quiet', '--not-before', '2024-01-01', file);
  t.equal(JSON.parse(fixed.stdout).time, '2024-10-06T12:00:00.000Z');
});

t.test('benchDecode measures real decoding', async (t) => {
  const lines = splitLines(readFileSync(path.join(fixtures, 'sirfstarv-nmea.log'), 'latin1'));
  const r = benchDecode(lines, 3);
  t.equal(r.lines, lines.length * 3);
  t.equal(r.fixes, 3 * 59, 'every round decodes the 59 fixes of the capture');
  t.ok(r.linesPerSecond > 0 && Number.isFinite(r.linesPerSecond));
});

t.test('benchGpsDecode covers every fixture capture', async (t) => {
  const b = benchGpsDecode({ rounds: 1 });
  t.equal(b.files, 5);
  const direct = [
    'ac12_binary.log',
    'bu353-glonass.log',
    'hemi.log',
    'sirfstarv-nmea.log',
    'ublox-lea-5q.log',
  ]
    .map((f) => decodeLines(splitLines(readFileSync(path.join(fixtures, f), 'latin1'))))
    .reduce((n, d) => n + d.decode.fixes, 0);
  t.equal(b.fixes, direct, 'the timed work found every fix');
  t.match(formatGpsDecodeBench(b), /^gps decode: [\d,]+ lines\/s, [\d.]+ MB\/s \(5 captures x 1 rounds/);
});
