// The serial source through a real pseudo-terminal pair made by socat, with the real
// serialport library: real captures written into one end come out as fixes from the other;
// killing socat is an unplug, starting it again on the same link a replug.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  type WriteStream,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import t from 'tap';
import { decodeLines, splitLines } from '../agent/gps/decode-text.js';
import { defaultGpsPath } from '../agent/gps/device-path.js';
import { type GpsEvent, gpsEvents } from '../agent/gps/positions.js';
import { openSerialSource, type SerialSource } from '../agent/gps/serial-source.js';
import type { NmeaSource, SourceState } from '../agent/gps/source.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixture = (name: string) => readFileSync(path.join(repoRoot, 'test/fixtures/nmea', name));

interface Pty {
  gps: string;
  feed: string;
  /** Plug in: socat makes both ends; a writer holds the feed end open, as a receiver would. */
  start(): Promise<void>;
  /** Unplug: kill socat, both ends vanish. */
  stop(): Promise<void>;
  /** Writes bytes into the feed end in small chunks, as a UART would deliver them. */
  write(bytes: Buffer): Promise<void>;
}

function pty(t: { teardown(fn: () => unknown): void }): Pty {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-gps-serial-'));
  const gps = path.join(dir, 'gps');
  const feed = path.join(dir, 'feed');
  let socat: ChildProcess | undefined;
  let writer: WriteStream | undefined;
  const p: Pty = {
    gps,
    feed,
    start: async () => {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(
          'socat',
          ['-d', '-d', `pty,raw,echo=0,link=${gps}`, `pty,raw,echo=0,link=${feed}`],
          {
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        socat = child;
        let err = '';
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('starting data transfer loop')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`socat exited ${code}: ${err}`)));
      });
      const w = createWriteStream(feed, { flags: 'w' });
      // Writes after an unplug fail with EIO: expected, the test unplugged it.
      w.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        w.once('open', () => resolve());
        w.once('error', reject);
      });
      writer = w;
    },
    stop: async () => {
      const child = socat;
      socat = undefined;
      if (child && child.exitCode === null) {
        await new Promise((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGTERM');
        });
      }
      writer?.destroy();
      writer = undefined;
    },
    write: async (bytes) => {
      const w = writer;
      if (!w) throw new Error('pty not started');
      for (let i = 0; i < bytes.length; i += 64) {
        if (!w.write(bytes.subarray(i, i + 64))) await new Promise<void>((r) => w.once('drain', () => r()));
        await tick();
      }
    },
  };
  t.teardown(async () => {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return p;
}

/** Resolves when the source is (or gets) into `state`; fails loudly instead of hanging. */
function reach(src: NmeaSource, state: SourceState, guardMs = 20_000): Promise<void> {
  if (src.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`never reached ${state}; still ${src.state}`)), guardMs);
    const on = (s: SourceState) => {
      if (s !== state) return;
      clearTimeout(timer);
      src.off('state', on);
      resolve();
    };
    src.on('state', on);
  });
}

/** Pulls events until `until` says stop. */
async function take(
  events: AsyncIterator<GpsEvent>,
  until: (seen: GpsEvent[]) => boolean,
  guardMs = 20_000,
): Promise<GpsEvent[]> {
  const seen: GpsEvent[] = [];
  const deadline = Date.now() + guardMs;
  while (!until(seen)) {
    if (Date.now() > deadline) throw new Error(`gave up after ${seen.length} events`);
    const r = await events.next();
    if (r.done) break;
    seen.push(r.value);
  }
  return seen;
}

const fixesOf = (events: GpsEvent[]) => events.flatMap((e) => (e.kind === 'fix' ? [e.position] : []));

function open(
  t: { teardown(fn: () => unknown): void },
  gps: string,
  extra: Partial<Parameters<typeof openSerialSource>[0]> = {},
): SerialSource {
  const src = openSerialSource({ path: gps, baudRate: 9600, backoffMinMs: 50, backoffMaxMs: 400, ...extra });
  t.teardown(() => src.close());
  return src;
}

t.test('a real capture through the pty comes out as the same fixes as decoding the file', async (t) => {
  const p = pty(t);
  await p.start();
  for (const name of ['bu353-glonass.log', 'ac12_binary.log']) {
    const bytes = fixture(name);
    const direct = decodeLines(splitLines(bytes.toString('latin1')));
    const want = direct.results.flatMap((r) => (r.kind === 'fix' ? [r.position] : []));
    const src = open(t, p.gps);
    await reach(src, 'connected');
    const events = gpsEvents(src)[Symbol.asyncIterator]();
    const [, seen] = await Promise.all([
      p.write(bytes),
      take(events, (seen) => fixesOf(seen).length === want.length),
    ]);
    t.same(fixesOf(seen), want, `${name}: ${want.length} fixes`);
    while (src.counters.bytes < bytes.length) await new Promise((r) => setTimeout(r, 20));
    await src.close();
    t.equal(src.counters.bytes, bytes.length, `${name}: every byte arrived`);
    t.equal(src.counters.sentences, direct.lines.sentences, `${name}: same sentences as the file decoder`);
    t.equal(src.counters.skippedBytes, direct.lines.skippedBytes, `${name}: binary skipped and counted`);
    t.equal(src.state, 'closed');
  }
});

t.test('unplug and replug: "gps disconnected" meanwhile, then fixes again', async (t) => {
  const p = pty(t);
  await p.start();
  const src = open(t, p.gps, { silenceMs: 60_000 });
  const states: SourceState[] = [];
  src.on('state', (s) => states.push(s));
  await reach(src, 'connected');
  const events = gpsEvents(src)[Symbol.asyncIterator]();
  const capture = fixture('bu353-glonass.log');
  await Promise.all([p.write(capture.subarray(0, 1500)), take(events, (seen) => fixesOf(seen).length >= 2)]);

  await p.stop();
  await reach(src, 'gps disconnected');
  t.match(src.stateDetail, /.+/, `why: ${src.stateDetail}`);
  // The path is looked for several times while nothing is there; the state must keep saying why.
  while (src.counters.absentChecks < 3) await new Promise((r) => setTimeout(r, 50));
  t.equal(src.state, 'gps disconnected');

  await p.start();
  await reach(src, 'connected');
  const after = await Promise.all([
    p.write(capture.subarray(capture.indexOf('$GPGGA,081418'))),
    take(events, (seen) => fixesOf(seen).some((f) => f.time === Date.UTC(2014, 4, 26, 8, 14, 19))),
  ]);
  t.ok(fixesOf(after[1]).length >= 1, 'fixes flow again after the replug');
  t.ok(src.counters.opens >= 2, `${src.counters.opens} opens`);
  const firstDown = states.indexOf('gps disconnected');
  const backUp = states.indexOf('connected', firstDown);
  t.same(
    [...new Set(states.slice(firstDown, backUp))],
    ['gps disconnected'],
    'nothing but "gps disconnected" between unplug and replug',
  );
});

t.test(
  'a replug after a long unplug is opened at the next presence check, not after the backoff',
  async (t) => {
    // The old source retried a missing path with a backoff doubling 50 ms, 100, ... up to the
    // maximum, so after ~7 s unplugged its next try was ~6 s away (30 s in the field). Now a
    // missing path is only looked for (every presenceCheckMs) and opened as soon as it is there.
    const p = pty(t);
    await p.start();
    const warnings: { msg: string; err?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const src = open(t, p.gps, { silenceMs: 60_000, backoffMaxMs: 30_000, presenceCheckMs: 200, log });
    await reach(src, 'connected');
    const events = gpsEvents(src)[Symbol.asyncIterator]();
    const capture = fixture('bu353-glonass.log');
    await Promise.all([
      p.write(capture.subarray(0, 1500)),
      take(events, (seen) => fixesOf(seen).length >= 2),
    ]);

    await p.stop();
    await reach(src, 'gps disconnected');
    const lostAt = performance.now();
    // Unplugged long enough for a doubling backoff to reach seconds: 7 s of presence checks.
    while (performance.now() - lostAt < 7000) await new Promise((r) => setTimeout(r, 100));
    const checksWhileAway = src.counters.absentChecks;
    t.ok(
      checksWhileAway >= 10,
      `the missing path was looked for ${checksWhileAway} times, not backed off from`,
    );
    t.equal(src.counters.disconnects, 1, 'one disconnect: the unplug');
    t.ok(
      src.counters.failedOpens <= 1,
      `${src.counters.failedOpens} failed opens: a missing path is not opened`,
    );

    const opensBefore = src.counters.opens;
    await p.start();
    const pluggedAt = performance.now();
    await reach(src, 'connected');
    const reopenMs = performance.now() - pluggedAt;
    // Generous for a loaded machine (the check runs every 200 ms); the old backoff needed ~6 s.
    t.ok(reopenMs < 3000, `reopened ${Math.round(reopenMs)} ms after the replug`);
    t.ok(
      src.counters.absentChecks - checksWhileAway <= Math.ceil(reopenMs / 200) + 2,
      'reopened at one of the first checks after the path came back',
    );
    t.equal(src.counters.opens, opensBefore + 1, 'one open for the replug');
    const after = await Promise.all([
      p.write(capture.subarray(capture.indexOf('$GPGGA,081418'))),
      take(events, (seen) => fixesOf(seen).some((f) => f.time === Date.UTC(2014, 4, 26, 8, 14, 19))),
    ]);
    t.ok(fixesOf(after[1]).length >= 1, 'fixes flow again after the replug');

    const lines = warnings.map((w) => w.msg);
    t.equal(
      lines.filter((m) => m === 'gps disconnected').length,
      1,
      'one warning for the unplug, however long',
    );
    t.equal(
      lines.filter((m) => m === 'gps port open').length,
      2,
      'one line for each open: the first and the replug',
    );
  },
);

t.test('a path that exists but does not open backs off; a replug meanwhile is not waited out', async (t) => {
  // A node that is there but fails to open (here a plain file: not a tty) keeps the doubling
  // backoff, so a permanently broken port is not retried in a tight loop nor logged each time.
  const p = pty(t);
  writeFileSync(p.gps, '');
  const warnings: { msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
  const src = open(t, p.gps, {
    silenceMs: 60_000,
    backoffMinMs: 200,
    backoffMaxMs: 30_000,
    presenceCheckMs: 100,
    log,
  });
  // 200 + 400 + 800 + 1600 + 3200 ms of backoff: the next try would be 6.4 s away.
  while (src.counters.failedOpens < 5) await new Promise((r) => setTimeout(r, 50));
  t.equal(src.counters.disconnects, 0, 'a port that never opened is no disconnect');
  t.equal(src.counters.absentChecks, 0, 'the path is there: backoff, not presence checks');
  t.equal(src.state, 'gps disconnected');
  t.equal(
    warnings.filter((w) => w.msg === 'gps disconnected').length,
    1,
    'five failures for the same reason: one warning',
  );

  // The broken device is unplugged and a working one plugged in at the same path.
  rmSync(p.gps);
  await p.start();
  const pluggedAt = performance.now();
  await reach(src, 'connected');
  const reopenMs = performance.now() - pluggedAt;
  t.ok(
    reopenMs < 3000,
    `reopened ${Math.round(reopenMs)} ms after the replug, not at the end of the 6.4 s backoff`,
  );
});

t.test('a silent receiver is detected and the port reopened; data brings it back', async (t) => {
  const p = pty(t);
  await p.start();
  const src = open(t, p.gps, { silenceMs: 300 });
  await reach(src, 'connected');
  const capture = fixture('bu353-glonass.log');
  const lines: string[] = [];
  const reading = (async () => {
    for await (const l of src) lines.push(l.line);
  })();
  await p.write(capture.subarray(0, 700));
  await reach(src, 'silent');
  t.ok(src.counters.silences >= 1);
  const opensBefore = src.counters.opens;
  while (src.counters.opens === opensBefore) await new Promise((r) => setTimeout(r, 20));
  t.equal(src.state, 'silent', 'still silent after reopening, until bytes arrive');
  const before = lines.length;
  await p.write(capture.subarray(700, 1400));
  await reach(src, 'connected');
  while (lines.length === before) await new Promise((r) => setTimeout(r, 20));
  t.ok(lines.length > before, 'sentences again after the silence');
  await src.close();
  await reading;
});

t.test('a device that is not there: "gps disconnected", retried, closed cleanly', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-gps-none-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = open(t, path.join(dir, 'ttyUSB9'));
  await reach(src, 'gps disconnected');
  t.match(src.stateDetail, /ttyUSB9 does not exist \(unplugged\?\)/);
  // Looked for again and again (every presenceCheckMs), never opened: no open failures to count.
  while (src.counters.absentChecks < 3) await new Promise((r) => setTimeout(r, 50));
  t.same([src.counters.disconnects, src.counters.failedOpens], [0, 0], 'a missing path is not opened');
  const it = src[Symbol.asyncIterator]();
  const next = it.next();
  await src.close();
  t.same(await next, { value: undefined, done: true }, 'close ends the iteration');
});

t.test('default device: first /dev/serial/by-id link, else ttyUSB0 or ttyACM0', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-gps-dev-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const byId = path.join(dir, 'by-id');
  const usb = path.join(dir, 'ttyUSB0');
  const acm = path.join(dir, 'ttyACM0');
  t.equal(defaultGpsPath(byId, [usb, acm]), usb, 'nothing there: the first fallback');
  writeFileSync(acm, '');
  t.equal(defaultGpsPath(byId, [usb, acm]), acm, 'the fallback that exists');
  mkdirSync(byId);
  t.equal(defaultGpsPath(byId, [usb, acm]), acm, 'an empty by-id folder is no device');
  writeFileSync(path.join(byId, 'usb-u-blox_AG_GNSS_receiver-if00'), '');
  writeFileSync(path.join(byId, 'usb-Prolific_USB-Serial-if00-port0'), '');
  t.equal(
    defaultGpsPath(byId, [usb, acm]),
    path.join(byId, 'usb-Prolific_USB-Serial-if00-port0'),
    'first by-id entry',
  );
});
