// The fleet simulator: riders that move like riders, and a fleet through the real pipeline.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { formatStatus, readStatus } from '../agent/commands/status.js';
import { startFleet } from '../agent/sim/fleet.js';
import { seededRandom } from '../agent/sim/random.js';
import { DEFAULT_CITY, Rider } from '../agent/sim/rider.js';
import { captureFixes, fleetTracks, MAX_REPLAY_GAP_S, replayTrack } from '../agent/sim/tracks.js';
import { validateFix } from '../shared/fixvalidate.js';
import { quietLog, readTopic, testBroker } from './helpers/agent-kafka.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/sirfstarv-nmea.log');
const exec = promisify(execFile);

function metres(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const dy = (b.lat - a.lat) * 111_320;
  const dx = (b.lon - a.lon) * 111_320 * Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot(dx, dy);
}

function tmpDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-sim-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const tmpDb = (t: Test): string => join(tmpDir(t), 'sim.db');

t.test('a rider rides the grid at 3-12 m/s, stops at corners and deliveries, stays in town', async (t) => {
  const rider = new Rider(DEFAULT_CITY, seededRandom(7));
  const t0 = Date.UTC(2026, 0, 1);
  const ps = Array.from({ length: 3600 }, (_, i) => rider.step(t0 + i * 1000));
  const invalid = ps
    .map((p, i) => validateFix({ ...p, deviceId: 'x', seq: i + 1 }))
    .filter((e) => e !== null);
  t.same(invalid, [], 'every position is a valid fix');
  const speeds = ps.map((p) => p.speed!);
  t.ok(Math.max(...speeds) <= 12, 'never faster than 12 m/s');
  const moving = speeds.filter((s) => s > 0).length / speeds.length;
  t.ok(moving > 0.4 && moving < 0.95, `moving ${Math.round(moving * 100)}% of the time`);
  const cruising = speeds.filter((s) => s >= 3);
  t.ok(cruising.length > 600, 'mostly at riding speeds');
  // Stops: runs of zero speed, from lights (seconds) to deliveries (minutes).
  const runs: number[] = [];
  let run = 0;
  for (const s of speeds) {
    if (s === 0) run++;
    else if (run > 0) {
      runs.push(run);
      run = 0;
    }
  }
  t.ok(runs.length >= 10, `${runs.length} stops in an hour`);
  t.ok(
    runs.some((r) => r >= 60),
    'at least one delivery stop of a minute or more',
  );
  // Movement matches the reported speed (no teleporting), give or take receiver noise.
  const jumps = ps.slice(1).filter((p, i) => metres(ps[i]!, p) > Math.max(p.speed!, ps[i]!.speed!) + 6);
  t.same(jumps, [], 'distance per second never exceeds the speed');
  const span = (DEFAULT_CITY.size - 1) * DEFAULT_CITY.blockM;
  const sw = { lat: DEFAULT_CITY.lat0, lon: DEFAULT_CITY.lon0 };
  const outside = ps.filter(
    (p) => metres(sw, { lat: p.lat, lon: sw.lon }) > span + 10 || p.lat < sw.lat - 1e-4,
  );
  t.same(outside, [], 'stays on the grid');
  t.ok(
    ps.every((p) => [0, 90, 180, 270].includes(p.course!)),
    'rides along streets',
  );
  t.ok(new Set(ps.map((p) => p.course)).size >= 3, 'turns');
  const again = new Rider(DEFAULT_CITY, seededRandom(7));
  t.same(again.step(t0), ps[0], 'the same seed rides the same way');
});

t.test('replayed captures: the capture fixes, moved a little per device', async (t) => {
  const fixes = captureFixes(FIXTURE);
  t.equal(fixes.length, 59);
  const tracks = fleetTracks(3, 1, DEFAULT_CITY, [FIXTURE]);
  const p = tracks.map((tr) => tr.next(Date.UTC(2026, 0, 1))!);
  for (const x of p) t.ok(metres(x, fixes[0]!) < 2000, 'near the capture');
  t.not(p[0]!.lat, p[1]!.lat, 'devices do not overlap');
  t.equal(p[0]!.time, Date.UTC(2026, 0, 1), 'stamped with the simulated time');
  t.throws(() => captureFixes(join(ROOT, 'package.json')), /has no fixes/);
});

t.test('replayed captures in the city: moved onto the street grid, motion kept', async (t) => {
  const fixes = captureFixes(FIXTURE);
  const [track] = fleetTracks(1, 1, DEFAULT_CITY, [FIXTURE], { inCity: true });
  const cityM = DEFAULT_CITY.size * DEFAULT_CITY.blockM;
  const corner = { lat: DEFAULT_CITY.lat0, lon: DEFAULT_CITY.lon0 };
  const a = track!.next(Date.UTC(2026, 0, 1))!;
  const b = track!.next(Date.UTC(2026, 0, 1, 0, 0, 1))!;
  t.ok(metres(a, fixes[0]!) > 1_000_000, 'far from where it was captured (Oregon)');
  t.ok(
    metres(a, corner) < cityM * 1.5,
    `within the simulated city (${Math.round(metres(a, corner))} m from its corner)`,
  );
  // Consecutive positions differ by one of the capture's own steps: moved, not reshaped.
  const step = (p: { lat: number; lon: number }, q: { lat: number; lon: number }) => [
    q.lat - p.lat,
    q.lon - p.lon,
  ];
  const [dLat, dLon] = step(a, b);
  const same = fixes.some((f, k) => {
    const next = fixes[(k + 1) % fixes.length]!;
    const [fLat, fLon] = step(f, next);
    return Math.abs(fLat! - dLat!) < 1e-9 && Math.abs(fLon! - dLon!) < 1e-9;
  });
  t.ok(same, 'the step between two positions is a step of the capture');
});

/** A capture of 3 fixes, a silence of `silenceS` seconds, then 3 more: its path. */
function captureWithSilence(t: Test, silenceS: number): string {
  const dir = tmpDir(t);
  const T = Date.UTC(2026, 0, 1, 10);
  writeNmeaTrack(join(dir, 'a.nmea'), { epochs: 3, startMs: T });
  writeNmeaTrack(join(dir, 'b.nmea'), { epochs: 3, startMs: T + (3 + silenceS) * 1000, lat: 52.53 });
  const file = join(dir, 'silence.nmea');
  writeFileSync(file, Buffer.concat([readFileSync(join(dir, 'a.nmea')), readFileSync(join(dir, 'b.nmea'))]));
  return file;
}

t.test('a replayed capture keeps its silences: no fix for their seconds, not a jump in one', async (t) => {
  const fixes = captureFixes(captureWithSilence(t, 7));
  const T = fixes[0]!.time;
  t.same(
    fixes.map((f) => (f.time - T) / 1000),
    [0, 1, 2, 10, 11, 12],
  );
  const track = replayTrack(fixes, 0, 0, 0);
  const got = Array.from({ length: 14 }, (_, k) => track.next(k * 1000));
  t.same(
    got.map((p) => (p ? 'fix' : '-')).join(' '),
    'fix fix fix - - - - - - - fix fix fix fix',
    'the silence replayed as seconds without a fix; the loop wraps with none',
  );
  t.same(got[10]?.lat, fixes[3]!.lat, 'then the fix after the silence');
  // Stopped and restarted inside the silence: the rest of it, then the fix after it.
  const mid = replayTrack(fixes, 0, 0, 0);
  for (let k = 0; k < 5; k++) mid.next(k * 1000);
  const resumed = replayTrack(fixes, 4, 0, 0);
  t.ok(resumed.restore(JSON.parse(JSON.stringify(mid.snapshot()))), 'restored from its snapshot');
  const rest = Array.from({ length: 6 }, (_, k) => resumed.next((5 + k) * 1000));
  t.same(rest.map((p) => (p ? 'fix' : '-')).join(' '), '- - - - - fix');
  t.equal(rest[5]?.lat, fixes[3]!.lat);
  t.ok(resumed.restore({ replayAt: 1 }), 'a snapshot from before waits existed still restores');
  t.notOk(resumed.restore({ replayAt: 1, wait: -1 }), 'a bad wait is refused');
  // Hours with the receiver off between two sessions: shortened, so a rider is not gone for hours.
  const long = replayTrack(captureFixes(captureWithSilence(t, 3600)), 2, 0, 0);
  long.next(0);
  let quiet = 0;
  while (long.next(0) === null) quiet++;
  t.equal(quiet, MAX_REPLAY_GAP_S - 1, `a 3600 s silence replayed as ${MAX_REPLAY_GAP_S} s`);
});

t.test('a fleet replaying a capture with a silence stores no fix for it', async (t) => {
  const broker = await testBroker(t);
  const fleet = await startFleet({
    devices: 2,
    db: tmpDb(t),
    kafka: { brokers: [broker.address] },
    topic: 'gps.fixes',
    log: quietLog,
    speed: 50,
    durationS: 13, // one loop of the capture: 6 fixes and 7 silent seconds, from wherever it starts
    replay: [captureWithSilence(t, 7)],
  });
  t.teardown(() => fleet.stop());
  await fleet.done;
  t.match(fleet.stats(), { ticks: 13, stored: 12, rejected: 0 });
  t.equal((await readTopic(broker.address, 'gps.fixes')).length, 12);
});

t.test('a fleet goes through outbox and sender to the real broker, each device its own seqs', async (t) => {
  const broker = await testBroker(t);
  const fleet = await startFleet({
    devices: 20,
    db: tmpDb(t),
    kafka: { brokers: [broker.address] },
    topic: 'gps.fixes',
    log: quietLog,
    speed: 50,
    durationS: 10,
  });
  t.teardown(() => fleet.stop());
  await fleet.done;
  const s = fleet.stats();
  t.match(s, { ticks: 10, stored: 200, rejected: 0 });
  const got = await readTopic(broker.address, 'gps.fixes');
  t.equal(got.length, 200);
  const byDevice = new Map<string, number[]>();
  for (const g of got) byDevice.set(g.key, [...(byDevice.get(g.key) ?? []), g.fix.seq]);
  t.same([...byDevice.keys()].sort(), fleet.deviceIds);
  for (const [id, seqs] of byDevice) {
    t.same(
      seqs.sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      `${id}: seqs 1..10 once`,
    );
  }
  const times = got.filter((g) => g.key === 'sim-0001').map((g) => g.fix.time);
  t.same(
    times.sort((a, b) => a - b).map((x) => x - times[0]!),
    [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000],
    'one fix a simulated second',
  );
});

t.test('agent status on a running simulator: running, Kafka connected, the fleet fixes', async (t) => {
  const broker = await testBroker(t);
  const db = tmpDb(t);
  const fleet = await startFleet({
    devices: 3,
    db,
    kafka: { brokers: [broker.address] },
    topic: 'gps.fixes',
    log: quietLog,
    speed: 1,
  });
  t.teardown(() => fleet.stop());
  // Until the first ack the link may not be up yet; the state is committed every 5 s.
  let s = readStatus(db);
  for (let i = 0; i < 60 && !(s.healthy && s.kafka?.lastAckAgeMs != null); i++) {
    await new Promise((r) => setTimeout(r, 250));
    s = readStatus(db);
  }
  t.match(s, {
    running: true,
    pid: process.pid,
    alive: true,
    gps: { source: 'simulated fleet of 3', fix: 'fix' },
    kafka: { connected: true },
    healthy: true,
  });
  t.match(formatStatus(s), /^agent: +running \(pid \d+/);
  t.equal(s.devices.length, 3, 'its three devices');

  await fleet.stop();
  const after = readStatus(db);
  t.match(after, { running: false, pid: process.pid, healthy: false });
  t.match(formatStatus(after), /^agent: +not running \(last seen \d+ s ago\)/, 'stopped, not "never ran"');
  t.ok(after.gps!.fixes >= 3, `${after.gps!.fixes} fixes stored in all`);
});

for (const kind of ['riders', 'replays'] as const) {
  t.test(`a restarted fleet carries each device on from where it stopped: ${kind}`, async (t) => {
    const broker = await testBroker(t);
    const db = tmpDb(t);
    const run = async (durationS: number) => {
      const fleet = await startFleet({
        devices: 5,
        db,
        kafka: { brokers: [broker.address] },
        topic: 'gps.fixes',
        log: quietLog,
        speed: 50,
        durationS,
        ...(kind === 'replays' ? { replay: [FIXTURE] } : {}),
      });
      t.teardown(() => fleet.stop());
      await fleet.done;
      return fleet.deviceIds;
    };
    // 45 s: past the periodic save at tick 30, so only the save at stop has the last position.
    const ids = await run(45);
    await run(5);
    const all = await readTopic(broker.address, 'gps.fixes');
    t.equal(all.length, 5 * 50, 'both runs stored every fix');
    for (const id of ids) {
      const fixes = all
        .filter((g) => g.key === id)
        .sort((a, b) => a.fix.seq - b.fix.seq)
        .map((g) => g.fix);
      t.same(
        fixes.map((f) => f.seq),
        Array.from({ length: 50 }, (_, i) => i + 1),
        `${id}: seqs carry on`,
      );
      // Compared with the device's own steps in the first run (riding, or the capture's).
      const steps = fixes.slice(1, 45).map((f, i) => metres(fixes[i]!, f));
      const jump = metres(fixes[44]!, fixes[45]!);
      t.ok(
        jump <= Math.max(...steps) + 3,
        `${id}: ${jump.toFixed(1)} m from the last fix before the restart (largest step before: ${Math.max(...steps).toFixed(1)} m)`,
      );
    }
  });
}

t.test('agent simulate on the command line', async (t) => {
  const broker = await testBroker(t);
  const r = await exec(
    process.execPath,
    [
      '--import',
      'tsx',
      'agent/main.ts',
      'simulate',
      '--devices',
      '3',
      '--duration',
      '4',
      '--speed',
      '20',
      '--replay',
      FIXTURE,
      '--db',
      tmpDb(t),
      '--brokers',
      broker.address,
    ],
    { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  t.equal(r.stderr, '');
  const got = await readTopic(broker.address, 'gps.fixes');
  t.equal(got.length, 12);
  const bad = await exec(
    process.execPath,
    ['--import', 'tsx', 'agent/main.ts', 'simulate', '--devices', '0'],
    {
      cwd: ROOT,
    },
  ).catch((e: { code: number; stderr: string }) => e);
  t.equal((bad as { code: number }).code, 2);
  t.match((bad as { stderr: string }).stderr, /--devices needs an integer from 1 to 100000, got '0'/);
});
