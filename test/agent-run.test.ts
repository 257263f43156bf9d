// `agent run` as a real process: replay -> outbox -> real broker, READY and WATCHDOG to a real
// notify socket, a clean stop on SIGTERM that loses nothing, and status while it runs.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { readStatus } from '../agent/commands/status.js';
import { openOutboxDb } from '../agent/outbox/schema.js';
import { readTopic, testBroker, until } from './helpers/agent-kafka.js';
import { notifyListener } from './helpers/agent-notify.js';
import { exited, spawnAgent } from './helpers/agent-process.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/sirfstarv-nmea.log');
const FIXES_IN_FIXTURE = 59; // `agent decode --one-per-second` of it
const exec = promisify(execFile);

function tmpDb(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'outbox.db');
}

/** The agent from sources, logging at info unless `env` says otherwise. */
const agent = (t: Test, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnAgent(t, args, { LOG_LEVEL: 'info', ...env });

t.test('replay to the end: every fix in Kafka once, READY and WATCHDOG sent, exits 0', async (t) => {
  const broker = await testBroker(t);
  const notify = await notifyListener(t);
  const db = tmpDb(t);
  const { child, out } = agent(
    t,
    [
      'run',
      '--replay',
      FIXTURE,
      '--speed',
      '20',
      '--device',
      'bike-run',
      '--db',
      db,
      '--brokers',
      broker.address,
    ],
    // Group commit on: the fixes held between commits must not be lost either.
    { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000', OUTBOX_COMMIT_MS: '300' },
  );
  const code = await exited(child);
  t.equal(code, 0, 'exits 0 once all is sent');
  if (code !== 0) t.comment(out.join(''));
  const got = await readTopic(broker.address, 'gps.fixes');
  t.same(
    got.map((g) => g.fix.seq).sort((a, b) => a - b),
    Array.from({ length: FIXES_IN_FIXTURE }, (_, i) => i + 1),
  );
  t.ok(got.every((g) => g.key === 'bike-run'));
  t.ok(
    notify.messages.some((m) => m.split('\n').includes('READY=1')),
    'READY=1',
  );
  t.ok(notify.messages.includes('WATCHDOG=1'), 'WATCHDOG=1');
  t.ok(notify.messages.includes('STOPPING=1'), 'STOPPING=1');
  const logs = out
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; name: string });
  t.ok(
    logs.some((l) => l.msg === 'agent starting' && l.name === 'agent'),
    'structured JSON logs on stdout',
  );
  const s = readStatus(db);
  t.match(s, { running: false, backlog: { rows: 0 }, dropped: { count: 0 } });
  t.equal(s.devices[0]?.nextSeq, FIXES_IN_FIXTURE + 1);
});

t.test('SIGTERM while offline stops within seconds and loses nothing; status sees it all', async (t) => {
  const broker = await testBroker(t);
  await broker.stop(); // Kafka down: everything piles up in the outbox
  const db = tmpDb(t);
  const { child, out } = agent(t, [
    'run',
    '--replay',
    FIXTURE,
    '--loop',
    '--speed',
    '10',
    '--device',
    'bike-term',
    '--db',
    db,
    '--brokers',
    broker.address,
  ]);
  await until('some fixes stored', () => {
    try {
      return readStatus(db).backlog.rows >= 5;
    } catch {
      return false;
    }
  });
  const live = readStatus(db);
  t.equal(live.running, true, 'status sees the agent running');
  t.equal(live.kafka?.connected, false, 'and Kafka disconnected');
  t.equal(live.gps?.fix, 'fix');
  t.match(live.gps?.source, /^replay:/);
  t.ok(live.devices[0]!.lastFixAgeMs! < 10_000);

  // A second agent on the same outbox is refused, in one line; the first runs on.
  const twin = await exec(
    process.execPath,
    ['--import', 'tsx', 'agent/main.ts', 'run', '--replay', FIXTURE, '--device', 'bike-term', '--db', db],
    { cwd: ROOT, env: { ...process.env, KAFKA_BROKERS: broker.address } },
  ).catch((e: { code: number; stderr: string }) => e);
  t.equal((twin as { code: number }).code, 1, 'a second agent on the outbox: exit 1');
  t.equal(
    (twin as { stderr: string }).stderr,
    `agent run: the outbox ${db} is in use by agent process ${child.pid}\n`,
    'naming the agent that has it',
  );
  t.equal(child.exitCode, null, 'the first runs on');

  const { stdout, stderr } = await exec(
    process.execPath,
    ['--import', 'tsx', 'agent/main.ts', 'status', '--db', db],
    {
      cwd: ROOT,
    },
  ).catch((e: { stdout: string; stderr: string; code: number }) => {
    t.equal(e.code, 1, 'status exits 1 while Kafka is down');
    return e;
  });
  t.match(stdout, /agent: +running/);
  t.match(stdout, /kafka: +disconnected/);
  t.match(stdout, /backlog: +\d+ fixes/);
  t.equal(stderr, '');

  const t0 = Date.now();
  child.kill('SIGTERM');
  const code = await exited(child);
  t.equal(code, 0, 'exits 0 on SIGTERM');
  if (code !== 0) t.comment(out.join(''));
  t.comment(`stopped ${Date.now() - t0} ms after SIGTERM`);

  const conn = openOutboxDb(db, { readonly: true });
  const seqs = conn
    .prepare<[], { seq: number }>('SELECT seq FROM fix ORDER BY seq')
    .all()
    .map((r) => r.seq);
  const next = (conn.prepare('SELECT next_seq FROM device').get() as { next_seq: number }).next_seq;
  t.equal(conn.pragma('integrity_check', { simple: true }), 'ok');
  conn.close();
  t.same(
    seqs,
    Array.from({ length: next - 1 }, (_, i) => i + 1),
    'every fix stored is still in the outbox',
  );
  const after = readStatus(db);
  t.equal(after.running, false, 'status sees the agent stopped');

  // Back online: a new run sends the whole backlog.
  await broker.restart();
  const second = agent(t, [
    'run',
    '--replay',
    join(ROOT, 'test/fixtures/nmea/hemi.log'),
    '--speed',
    '0',
    '--device',
    'bike-term',
    '--db',
    db,
    '--brokers',
    broker.address,
  ]);
  t.equal(await exited(second.child), 0, 'the second run exits 0');
  const got = await readTopic(broker.address, 'gps.fixes');
  const sent = got.map((g) => g.fix.seq).sort((a, b) => a - b);
  t.same(sent.slice(0, seqs.length), seqs, 'the backlog arrived');
  t.equal(new Set(sent).size, sent.length, 'each seq once');
});

t.test('--help and bad options', async (t) => {
  const { stdout } = await exec(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'run', '--help'], {
    cwd: ROOT,
  });
  t.match(stdout, /usage: npm run agent -- run/);
  t.match(stdout, /KAFKA_SASL_PASSWORD/);
  const bad = await exec(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'run', '--speed', 'x'], {
    cwd: ROOT,
    env: { ...process.env, DEVICE_ID: 'b' },
  }).catch((e: { code: number; stderr: string }) => e);
  t.equal((bad as { code: number }).code, 2);
  t.match((bad as { stderr: string }).stderr, /--speed x is not >= 0/);
  const noId = await exec(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'run'], {
    cwd: ROOT,
    env: { ...process.env, DEVICE_ID: '' },
  }).catch((e: { code: number; stderr: string }) => e);
  t.equal((noId as { code: number }).code, 2);
  t.match((noId as { stderr: string }).stderr, /DEVICE_ID is not set/);
});

t.test('a replay file with no NMEA sentence in it: exit 1 with one line, not a clean 0', async (t) => {
  const db = tmpDb(t);
  const file = join(db, '..', 'not-nmea.log');
  writeFileSync(file, 'PK\u0003\u0004 a zip, not a capture\n');
  // No broker: nothing is ever sent, the run ends on the empty source alone.
  const { child, out } = agent(t, ['run', '--replay', file, '--device', 'b', '--db', db, '--speed', '0'], {
    KAFKA_BROKERS: '127.0.0.1:1',
  });
  t.equal(await exited(child), 1);
  const lines = out.join('').split('\n');
  t.ok(
    lines.includes(`agent run: no NMEA sentence in ${file}: nothing to replay`),
    'one line saying what was wrong',
  );
  t.notOk(
    lines.some((l) => /^\s+at /.test(l)),
    'no stack trace',
  );
});
