// `agent run` reading a real pseudo-terminal (socat) with the real serialport library, and
// never logging a secret it was given.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readStatus } from '../agent/commands/status.js';
import { readTopic, testBroker, until } from './helpers/agent-kafka.js';
import { exited, spawnAgent } from './helpers/agent-process.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/sirfstarv-nmea.log');

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-run-serial-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pty pair: the agent opens `gps`, the test writes NMEA into `feed`. */
async function ptyPair(
  t: Test,
  dir: string,
): Promise<{ gps: string; write(b: Buffer): Promise<void>; unplug(): void }> {
  const gps = join(dir, 'gps');
  const feed = join(dir, 'feed');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${gps}`, `pty,raw,echo=0,link=${feed}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => {
    socat.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    socat.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('starting data transfer loop')) resolve();
    });
    socat.once('exit', (code) => reject(new Error(`socat exited ${code}: ${err}`)));
  });
  const w = createWriteStream(feed);
  w.on('error', () => {});
  t.teardown(() => w.destroy());
  return {
    gps,
    unplug: () => socat.kill('SIGKILL'),
    async write(b) {
      // About one second of a 9600 baud receiver per 100 ms: paced, not all at once.
      for (let i = 0; i < b.length; i += 960) {
        w.write(b.subarray(i, i + 960));
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

t.test('a GPS on a real serial pty: fixes stored with seqs and sent', async (t) => {
  const broker = await testBroker(t);
  const dir = tmp(t);
  const db = join(dir, 'outbox.db');
  const pty = await ptyPair(t, dir);
  const { child, out } = spawnAgent(
    t,
    ['run', '--gps', pty.gps, '--baud', '9600', '--device', 'bike-tty', '--db', db],
    {
      KAFKA_BROKERS: broker.address,
    },
  );
  await until('the port is open', () => out.join('').includes('"state":"connected"'), 30_000);
  // Dated today: a device in service takes a date 1024 weeks on only when that is not in the
  // future (the 2019 capture used before was stored as 2038, which the cloud dead-letters).
  const track = join(dir, 'today.nmea');
  writeNmeaTrack(track, { epochs: 70, startMs: Math.floor(Date.now() / 1000) * 1000 - 120_000 });
  await pty.write(readFileSync(track));
  await until('fixes stored and sent', () => {
    try {
      const s = readStatus(db);
      return s.devices[0]!.nextSeq > 50 && s.backlog.rows === 0;
    } catch {
      return false;
    }
  });
  const s = readStatus(db);
  t.equal(s.gps?.source, pty.gps);
  t.equal(s.gps?.fix, 'fix');
  child.kill('SIGTERM');
  t.equal(await exited(child), 0, 'clean stop');
  const got = await readTopic(broker.address, 'gps.fixes');
  const seqs = got.map((g) => g.fix.seq).sort((a, b) => a - b);
  t.same(
    seqs,
    Array.from({ length: seqs.length }, (_, i) => i + 1),
    `${seqs.length} fixes, seqs contiguous from 1`,
  );
  t.ok(seqs.length >= 50);
});

t.test('a receiver with the week-rollover bug is dated right; unplugged, status says no fix', async (t) => {
  const broker = await testBroker(t);
  const dir = tmp(t);
  const db = join(dir, 'outbox.db');
  const track = join(dir, 'old.nmea');
  // What such a receiver says today: a date 1024 weeks (19.6 years) early.
  const today = Date.UTC(2026, 11, 6, 10, 0, 0);
  const ROLLOVER_MS = 1024 * 7 * 86_400_000;
  writeNmeaTrack(track, { epochs: 20, startMs: today - ROLLOVER_MS });
  const pty = await ptyPair(t, dir);
  const { child, out } = spawnAgent(t, ['run', '--gps', pty.gps, '--device', 'bike-old', '--db', db], {
    KAFKA_BROKERS: broker.address,
  });
  await until('the port is open', () => out.join('').includes('"state":"connected"'), 30_000);
  await pty.write(readFileSync(track));
  await until('fixes stored and sent', () => {
    try {
      const s = readStatus(db);
      return s.devices[0]!.nextSeq > 10 && s.backlog.rows === 0 && s.gps?.fix === 'fix';
    } catch {
      return false;
    }
  });
  t.equal(readStatus(db).healthy, true, 'healthy while the receiver gives fixes');

  pty.unplug();
  await until('the unplug seen', () => readStatus(db).gps?.state === 'gps disconnected', 30_000);
  const s = readStatus(db);
  t.not(s.gps?.fix, 'fix', `status no longer reports a fix: ${s.gps?.fix}`);
  t.equal(s.healthy, false, 'nor healthy (status exits 1)');
  child.kill('SIGTERM');
  t.equal(await exited(child), 0, 'clean stop');

  const got = await readTopic(broker.address, 'gps.fixes');
  t.ok(got.length > 10, `${got.length} fixes sent`);
  const first = Math.min(...got.map((g) => g.fix.time));
  t.equal(new Date(first).toISOString(), new Date(today).toISOString(), 'dated 1024 weeks on: today');
});

t.test('secrets given in the environment never reach the logs or the status', async (t) => {
  const broker = await testBroker(t);
  const dir = tmp(t);
  const db = join(dir, 'outbox.db');
  const secret = 's3cret-Pa55word-XYZ';
  const { child, out } = spawnAgent(
    t,
    ['run', '--replay', FIXTURE, '--loop', '--speed', '20', '--device', 'bike-sasl', '--db', db],
    {
      LOG_LEVEL: 'debug',
      KAFKA_BROKERS: broker.address,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'rider',
      KAFKA_SASL_PASSWORD: secret,
    },
  );
  await until('a Kafka attempt', () => {
    try {
      const s = readStatus(db);
      return (s.kafka?.attempt ?? 0) >= 1 || s.kafka?.connected === true;
    } catch {
      return false;
    }
  });
  const status = JSON.stringify(readStatus(db));
  child.kill('SIGTERM');
  await exited(child);
  const logs = out.join('');
  t.ok(logs.length > 1000, 'debug logs were written');
  t.notOk(logs.includes(secret), 'the password is not in the logs');
  t.notOk(status.includes(secret), 'nor in the status');
});
