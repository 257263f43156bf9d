// kill -9 of the real agent process (GPS replay -> outbox -> broker) at random instants, again and
// again; then one clean run sends what is left. Every seq ever assigned must be in Kafka (at least
// once: a kill between ack and delete re-sends), contiguous from 1, and the outbox file intact.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readStatus } from '../agent/commands/status.js';
import { openOutboxDb } from '../agent/outbox/schema.js';
import { readTopic, testBroker, until } from './helpers/agent-kafka.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/sirfstarv-nmea.log');
const ROUNDS = 6;

function nextSeq(db: string): number {
  try {
    return readStatus(db).devices[0]?.nextSeq ?? 1;
  } catch {
    return 1;
  }
}

t.test('kill -9 of the running agent loses nothing and doubles nothing in the outbox', async (t) => {
  const broker = await testBroker(t);
  const dir = mkdtempSync(join(tmpdir(), 'agent-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'outbox.db');
  const run = (extra: string[]) =>
    spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'agent/main.ts'),
        'run',
        '--device',
        'bike-k',
        '--db',
        db,
        '--brokers',
        broker.address,
        ...extra,
      ],
      { cwd: ROOT, stdio: 'ignore', env: { ...process.env, LOG_LEVEL: 'warn' } },
    );

  for (let round = 0; round < ROUNDS; round++) {
    const child = run(['--replay', FIXTURE, '--loop', '--speed', '50']);
    const exited = new Promise((r) => child.once('exit', r));
    const before = nextSeq(db);
    // Storing and sending: kill somewhere in the middle of it.
    await until('fixes flowing', () => nextSeq(db) > before + 3);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
    child.kill('SIGKILL');
    await exited;
  }
  const assigned = nextSeq(db) - 1;
  t.ok(assigned > ROUNDS * 3, `${assigned} fixes stored across ${ROUNDS} kills`);

  const conn = openOutboxDb(db, { readonly: true });
  t.equal(conn.pragma('integrity_check', { simple: true }), 'ok', 'the file survived every kill');
  conn.close();

  // A clean run to the end of a short capture sends whatever the kills left behind.
  const last = run(['--replay', join(ROOT, 'test/fixtures/nmea/hemi.log'), '--speed', '0']);
  t.equal(await new Promise((r) => last.once('exit', r)), 0, 'the clean run exits 0');
  const total = nextSeq(db) - 1;
  t.equal(readStatus(db).backlog.rows, 0, 'outbox empty');

  const got = await readTopic(broker.address, 'gps.fixes');
  const seqs = [...new Set(got.map((g) => g.fix.seq))].sort((a, b) => a - b);
  t.same(
    seqs,
    Array.from({ length: total }, (_, i) => i + 1),
    `every seq 1..${total} reached Kafka`,
  );
  t.comment(
    `${got.length - seqs.length} records re-sent after a kill (the cloud keeps each (device, seq) once)`,
  );
});
