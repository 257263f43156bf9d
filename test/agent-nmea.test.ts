// NMEA line filtering, sentence decoding and epoch assembly, on hand-made sentences whose
// edge cases the real captures do not all cover (test/agent-decode-oracle.test.ts does those).
import { pino } from 'pino';
import t from 'tap';
import { decodeLines } from '../agent/gps/decode-text.js';
import { PositionDecoder } from '../agent/gps/decoder.js';
import { EpochAssembler, type EpochResult } from '../agent/gps/epoch.js';
import { filterLine, newLineCounters, nmeaChecksum } from '../agent/gps/line-filter.js';
import { OnePerSecond } from '../agent/gps/positions.js';
import { decodeSentence, KNOT_MS, parseRmcDate, parseTimeOfDay, timeOfFix } from '../agent/gps/sentence.js';

/** A sentence with its correct checksum. */
function s(body: string): string {
  return `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
}

const RMC = (time: string, status = 'A', date = '260514', extra = '') =>
  s(`GNRMC,${time},${status},5541.1955,N,03737.2872,E,0.60,301.29,${date},,,A${extra}`);
const GGA = (time: string, q = 1, sats = '05') =>
  s(`GPGGA,${time},5541.1956,N,03737.2877,E,${q},${sats},4.87,66.2,M,14.5,M,,`);

function fixes(results: EpochResult[]) {
  return results
    .filter((r): r is Extract<EpochResult, { kind: 'fix' }> => r.kind === 'fix')
    .map((r) => r.position);
}

t.test('line filter: good sentences pass, junk is skipped and counted', async (t) => {
  const c = newLineCounters();
  const good = RMC('081411.000');
  t.same(filterLine(`${good}\r`, c), { ok: true, sentence: good }, 'CR stripped');
  t.same(
    filterLine(
      good.replace(/\*(..)$/, (_m, h: string) => `*${h.toLowerCase()}`),
      c,
    ).ok,
    true,
    'lowercase checksum',
  );
  const junk = '\xb5b\x01\x07\x5c\x00\x10\x20\xff';
  t.same(
    filterLine(`${junk}${good}\r`, c),
    { ok: true, sentence: good },
    'binary before a sentence is cut off',
  );
  t.equal(c.skippedBytes, junk.length, 'the binary bytes are counted');
  t.equal(filterLine('\xa0\xa2\x00\x29\x02\xff\xff', c).ok, false, 'a SiRF binary frame is not a sentence');
  t.equal(c.skippedLines, 1);
  const bad = good.slice(0, -2) + (good.endsWith('00') ? '01' : '00');
  const v = filterLine(bad, c);
  t.equal(v.ok, false);
  t.equal(!v.ok && v.why, 'bad checksum');
  t.equal(c.badChecksums, 1);
  t.equal(filterLine(good.slice(0, 30), c).ok, false, 'a half sentence (no checksum) is skipped');
  t.equal(c.badChecksums, 2, 'counted as a bad checksum');
  const v2 = filterLine(`$GPTXT,${'x'.repeat(400)}*00`, c);
  t.equal(!v2.ok && v2.why, 'overlong');
  t.equal(c.overlongLines, 1);
  t.equal(filterLine('', c).ok, false, 'an empty line is no sentence');
  t.equal(c.sentences, 3);
});

t.test('time and date fields', async (t) => {
  t.equal(parseTimeOfDay('081411'), 29_651_000);
  t.equal(parseTimeOfDay('081411.1'), 29_651_100);
  t.equal(parseTimeOfDay('081411.25'), 29_651_250);
  t.equal(parseTimeOfDay('081411.125'), 29_651_125, '3 decimals keep their milliseconds');
  t.equal(parseTimeOfDay('235960'), 86_400_000, 'leap second');
  for (const bad of ['', '2461', '246100', '086011', 'ab1122', '0814111'])
    t.equal(parseTimeOfDay(bad), undefined, bad);
  t.equal(parseRmcDate('260514'), Date.UTC(2014, 4, 26));
  t.equal(parseRmcDate('010199'), Date.UTC(1999, 0, 1), '2-digit years 80..99 are 19xx');
  t.equal(parseRmcDate('010179'), Date.UTC(2079, 0, 1), '00..79 are 20xx');
  t.equal(parseRmcDate('310219'), undefined, '31 February');
  t.equal(parseRmcDate(''), undefined);
});

t.test('sentence decoding never trusts empty fields and never throws', async (t) => {
  const r = decodeSentence(RMC('081411.000'));
  t.equal(r.kind, 'facts');
  if (r.kind === 'facts') {
    t.equal(r.facts.talker, 'GN');
    t.equal(r.facts.type, 'RMC');
    t.ok(Math.abs(r.facts.lat! - (55 + 41.1955 / 60)) < 1e-9);
    t.ok(Math.abs(r.facts.speed! - 0.6 * KNOT_MS) < 1e-12, 'knots -> m/s');
    t.equal(r.facts.course, 301.29);
    t.equal(r.facts.fix, true);
  }
  // Empty lat/lon/speed: nmea-simple makes them 0; we must leave them out.
  const empty = decodeSentence(s('GPRMC,001902.00,V,,,,,,,020211,,,N'));
  t.equal(empty.kind, 'facts');
  if (empty.kind === 'facts') {
    t.equal(empty.facts.lat, undefined, 'no latitude, not 0');
    t.equal(empty.facts.speed, undefined, 'no speed, not 0');
    t.equal(empty.facts.fix, false, 'status V is no fix');
  }
  const noHemi = decodeSentence(s('GPGGA,081412.000,5541.1956,,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,'));
  t.equal(
    noHemi.kind === 'facts' && noHemi.facts.lat,
    undefined,
    'a latitude without N/S is not taken as south',
  );
  for (const talker of ['GP', 'GN', 'GL', 'GA', 'GB', 'BD']) {
    const g = decodeSentence(s(`${talker}GGA,081412.000,5541.1956,N,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,`));
    t.equal(g.kind === 'facts' && g.facts.talker, talker, `talker ${talker}`);
  }
  t.equal(decodeSentence(s('GPGSV,3,1,11,15,29,271,37')).kind, 'ignored', 'known but unused type');
  t.equal(decodeSentence(s('PUBX,00,081350.00,4717.113210,N')).kind, 'ignored', 'proprietary');
  t.equal(decodeSentence(s('GPXYZ,1,2,3')).kind, 'ignored', 'unknown type');
  const gll = decodeSentence(s('GPGLL,5201.1302,N,00832.1652,E,143054.000,A,A'));
  t.same(gll, { kind: 'ignored', type: 'GLL', tod: 52_254_000 }, 'GLL still gives its time of fix');
  // Truncated sentences with a valid checksum make nmea-simple throw; we return the reason.
  const trunc = decodeSentence(s('GPRMC,081411.000,A'));
  t.equal(trunc.kind, 'error', 'a truncated RMC is an error, not an exception');
  t.match(trunc.kind === 'error' && trunc.reason, /^RMC: /);
  const badTime = decodeSentence(s('GPGGA,99xx99,5541.1956,N,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,'));
  t.equal(badTime.kind, 'error');
  t.match(badTime.kind === 'error' && badTime.reason, /GGA: bad time/);
  t.equal(decodeSentence('$GPRMC,081411.000,A*00').kind, 'error', 'nmea-simple checksum failure is an error');
  t.equal(decodeSentence('garbage').kind, 'ignored');
  t.equal(timeOfFix(GGA('081412.500')), 29_652_500);
  t.equal(timeOfFix(s('GPGSA,A,3,03,19')), undefined);
});

t.test('epoch assembly: RMC + GGA + GSA + VTG of one time make one position', async (t) => {
  const { results } = decodeLines([
    s('GNGSA,A,3,03,19,27,13,,,,,,,,,2.75,2.56,1.00'),
    RMC('081411.000'),
    s('GPZDA,081411.000,26,05,2014,,'),
    GGA('081412.000'),
    s('GNGSA,A,2,03,19,27,13,,,,,,,,,4.97,4.87,1.00'),
    s('GPVTG,301.26,T,,M,0.52,N,0.96,K,A'),
    RMC('081412.000'),
  ]);
  const p = fixes(results);
  t.equal(p.length, 2);
  t.equal(p[0]!.time, Date.UTC(2014, 4, 26, 8, 14, 11));
  t.equal(p[0]!.mode, 3, 'GSA before the first timed sentence joins the first epoch');
  t.equal(p[0]!.alt, undefined, 'RMC alone has no altitude');
  t.equal(p[1]!.mode, 2, 'mode from the GSA of the epoch');
  t.equal(p[1]!.alt, undefined, 'no altitude in a 2D fix');
  t.equal(p[1]!.sats, 5);
  t.equal(p[1]!.quality, 1);
  t.equal(p[1]!.hdop, 4.87, 'hdop from GGA');
  t.ok(Math.abs(p[1]!.speed! - 0.6 * KNOT_MS) < 1e-12, 'RMC speed wins over VTG');
});

t.test('a bad sentence never drops the good fix of its epoch', async (t) => {
  const corrupt = RMC('081412.000').replace('5541', '5542'); // checksum now wrong
  const { results, lines } = decodeLines([
    RMC('081411.000'),
    GGA('081412.000'),
    corrupt,
    '\xb5b\x01\x07garbage\x00',
    s('GPGGA,081412.000,xx'), // valid checksum, useless content
  ]);
  const p = fixes(results);
  t.equal(p.length, 2);
  t.equal(p[1]!.time, Date.UTC(2014, 4, 26, 8, 14, 12), 'date carried from the last RMC');
  t.equal(p[1]!.alt, 66.2);
  t.equal(lines.badChecksums, 1);
  t.equal(lines.skippedLines, 1);
});

t.test('no fix is a status, not a position', async (t) => {
  const { results } = decodeLines([
    RMC('081411.000', 'V'),
    GGA('081411.000'),
    RMC('081412.000'),
    GGA('081412.000', 0),
    GGA('081413.000', 1, '00'),
    s('GNRMC,081414.000,A,5541.1955,N,03737.2872,E,0.60,301.29,260514,,'), // NMEA 2.2: no mode field
    s('GNRMC,081415.000,A,5541.1955,N,03737.2872,E,0.60,301.29,260514,,,N'),
    // NMEA 4.1 navigational status V is "no status given" (u-blox, always), not "no fix".
    s('GNRMC,081416.000,A,5541.1955,N,03737.2872,E,0.60,301.29,260514,,,A,V'),
  ]);
  t.same(
    results.map((r) => (r.kind === 'fix' ? 'fix' : r.reason)),
    ['no fix', 'no fix', 'no fix', 'fix', 'no fix', 'fix'],
    'RMC V, GGA quality 0, GGA with 0 satellites and RMC mode N are no fix',
  );
  t.same(fixes(results).length, 2);
});

t.test(
  'dates: carried forward across midnight, none before the first date, rollover on request',
  async (t) => {
    const a = new EpochAssembler();
    const facts = (tod: number, day?: number) => ({
      type: 'GGA',
      talker: 'GP',
      tod,
      lat: 1,
      lon: 2,
      fix: true,
      day,
    });
    t.equal(a.push(facts(1000)), undefined);
    const first = a.push(facts(2000));
    t.equal(first?.kind === 'nofix' && first.reason, 'no date', 'no date seen yet: no time, no position');
    a.push(facts(86_399_000, Date.UTC(2024, 0, 31)));
    const beforeMidnight = a.push(facts(0));
    t.equal(
      beforeMidnight?.kind === 'fix' && beforeMidnight.position.time,
      Date.UTC(2024, 0, 31, 23, 59, 59),
    );
    const afterMidnight = a.flush();
    t.equal(afterMidnight?.kind === 'fix' && afterMidnight.position.time, Date.UTC(2024, 1, 1), 'next day');

    const old = new EpochAssembler({ notBefore: Date.UTC(2024, 0, 1) });
    old.push({ ...facts(1000), day: Date.UTC(2005, 1, 20) });
    const r = old.flush();
    t.equal(
      r?.kind === 'fix' && new Date(r.position.time).toISOString(),
      '2024-10-06T00:00:01.000Z',
      '+1024 weeks',
    );
    const { results } = decodeLines([RMC('120000', 'A', '200205')], { notBefore: Date.UTC(2024, 0, 1) });
    t.equal(fixes(results)[0]?.time, Date.UTC(2024, 9, 6, 12), 'through the decoder too');

    // A date one rollover does not bring to notBefore is a receiver's garbage (a cold start's
    // default date), not a rollover victim: two steps made 1999-08-22 into 2038-11-21. Ignored:
    // the epoch carries the last good date.
    const clock = () => Date.UTC(2026, 11, 6, 12); // the Pi's, set by NTP
    const guard = new EpochAssembler({ notBefore: Date.UTC(2026, 0, 1), clock });
    guard.push({ ...facts(36_000_000), day: Date.UTC(2026, 11, 6) });
    const good = guard.push({ ...facts(36_001_000), day: Date.UTC(1999, 7, 22) });
    t.equal(good?.kind === 'fix' && new Date(good.position.time).toISOString(), '2026-12-06T10:00:00.000Z');
    const carried = guard.flush();
    t.equal(
      carried?.kind === 'fix' && new Date(carried.position.time).toISOString(),
      '2026-12-06T10:00:01.000Z',
      '1999-08-22: the last good date carried, not 2038',
    );
    for (const day of [Date.UTC(2019, 3, 7), Date.UTC(1980, 0, 6)]) {
      const cold = new EpochAssembler({ notBefore: Date.UTC(2026, 0, 1), clock });
      cold.push({ ...facts(1000), day });
      const r = cold.flush();
      t.equal(
        r?.kind === 'nofix' && r.reason,
        'no date',
        `${new Date(day).toISOString().slice(0, 10)} at cold start: no date, no fix`,
      );
    }
  },
);

t.test('a 10 Hz receiver yields the first fix of each second', async (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) {
    const tod = `0814${String(10 + Math.floor(i / 10)).padStart(2, '0')}.${i % 10}`;
    // The fix at .0 of the second second is missing (no fix): the .1 one stands in.
    lines.push(i === 10 ? RMC(tod, 'V') : RMC(tod), GGA(tod));
  }
  const { results } = decodeLines(lines);
  t.equal(fixes(results).length, 29, 'every epoch with a fix is decoded');
  const gate = new OnePerSecond();
  const kept = results.filter((r) => gate.accept(r));
  t.same(
    kept.map((r) => (r.kind === 'fix' ? new Date(r.position.time).toISOString().slice(17) : r.reason)),
    ['10.000Z', 'no fix', '11.100Z', '12.000Z'],
  );
});

t.test(
  'one fix per GNSS second, in time order: repeated and backward seconds are not new fixes',
  async (t) => {
    const tods = ['120000', '120001', '120002', '120001', '120003', '115000', '120004', '120004', '120005'];
    const { results } = decodeLines(tods.flatMap((tod) => [RMC(tod), GGA(tod)]));
    const gate = new OnePerSecond();
    t.same(
      results
        .filter((r) => gate.accept(r))
        .map((r) => (r.kind === 'fix' ? new Date(r.position.time).toISOString().slice(11, 19) : r.reason)),
      ['12:00:00', '12:00:01', '12:00:02', '12:00:03', '12:00:04', '12:00:05'],
    );
    // A receiver whose clock starts over (more than an hour back) is followed, not ignored for hours.
    const reset = decodeLines(
      ['120000', '120001', '080000', '080001'].flatMap((tod) => [RMC(tod), GGA(tod)]),
    ).results;
    const g2 = new OnePerSecond();
    t.equal(reset.filter((r) => g2.accept(r)).length, 4);
  },
);

t.test('the decoder counts and rate-limits what it skips', async (t) => {
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  const d = new PositionDecoder({ log, warnEveryMs: 60_000 });
  for (let i = 0; i < 5; i++) d.push(s('GPGGA,bad,5541.1956,N,03737.2877,E,1,5,4.87,66.2,M,14.5,M,,'));
  d.push(s('GPGSV,3,1,11'));
  t.equal(d.counters.parseErrors, 5);
  t.equal(d.counters.ignored, 1);
  t.equal(warnings.length, 1, 'one warning for five parse errors within the interval');
  t.match(warnings[0], /skipped NMEA sentence: GGA: bad time/);
});

t.test('a field the cloud would reject is left out, the position kept', async (t) => {
  const { results } = decodeLines([
    s('GPRMC,081411.000,A,5541.1955,N,03737.2872,E,1999.0,301.29,260514,,,A'),
    s('GPGGA,081411.000,5541.1955,N,03737.2872,E,1,05,4.87,66.2,M,14.5,M,,'),
  ]);
  const p = fixes(results);
  t.equal(p.length, 1);
  t.equal(p[0]!.speed, undefined, '1999 knots (1028 m/s) is beyond what a fix may carry');
  t.equal(p[0]!.course, 301.29);
  t.equal(p[0]!.alt, 66.2);
});
