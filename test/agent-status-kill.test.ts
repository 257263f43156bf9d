// `agent status` right after the real agent is killed with kill -9: "not running" at once. It
// trusted the heartbeat alone and said "running" for up to 15 s (three missed 5 s heartbeats);
// now it asks whether the process that wrote the heartbeat still runs (shared/process-identity.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { formatStatus, readStatus } from '../agent/commands/status.js';
import { until } from './helpers/agent-kafka.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/sirfstarv-nmea.log');
/** Nothing listens here: Kafka stays down, the agent keeps its fixes and runs on. */
const NO_BROKER = '127.0.0.1:18991';

function tmpDb(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-status-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'outbox.db');
}

const runArgs = (db: string) => [
  '--import',
  'tsx',
  join(ROOT, 'agent/main.ts'),
  'run',
  '--replay',
  FIXTURE,
  '--loop',
  '--speed',
  '10',
  '--device',
  'bike-kill',
  '--db',
  db,
  '--brokers',
  NO_BROKER,
];

function killOnTeardown(t: Test, child: ChildProcess): void {
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}

/** Resolves with the agent's status once it says running with a heartbeat written. */
async function runningStatus(db: string): Promise<ReturnType<typeof readStatus>> {
  let s: ReturnType<typeof readStatus> | undefined;
  await until('status says running', () => {
    try {
      s = readStatus(db);
      return s.running && s.pid !== null;
    } catch {
      return false; // the outbox is not made yet
    }
  });
  return s!;
}

t.test('kill -9: status says "not running" at once, with the heartbeat still fresh', async (t) => {
  const db = tmpDb(t);
  const child = spawn(process.execPath, runArgs(db), { cwd: ROOT, stdio: 'ignore' });
  killOnTeardown(t, child);
  const before = await runningStatus(db);
  t.equal(before.pid, child.pid, 'the heartbeat names the agent process');
  t.equal(before.alive, true);

  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const after = readStatus(db);
  t.ok(
    after.heartbeatAgeMs! < 15_000,
    `its heartbeat is ${after.heartbeatAgeMs} ms old: fresh enough to fool the old rule`,
  );
  t.match(after, { alive: false, running: false, healthy: false });
  t.match(formatStatus(after), /agent: +not running \(last seen \d+ s ago\)/);
  t.match(
    formatStatus(after),
    /\nkafka: .*\[when it stopped, \d+ s ago\]\n/,
    'its last state is said to be old',
  );
  t.match(formatStatus(after), /\ngps: .*\[when it stopped, \d+ s ago\]\n/);
});

t.test('kill -9 of an agent whose parent does not reap it (a zombie): not running either', async (t) => {
  // The agent's parent is `sleep` (bash execs it after starting the agent): a killed agent stays
  // a zombie, which kill(pid, 0) still finds, until sleep ends.
  const db = tmpDb(t);
  const parent = spawn('bash', ['-c', '"$0" "$@" & exec sleep 120', process.execPath, ...runArgs(db)], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  killOnTeardown(t, parent);
  const before = await runningStatus(db);
  const pid = before.pid!;
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  });
  process.kill(pid, 'SIGKILL');
  const state = () => readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.[0];
  await until('the agent is a zombie', () => state() === 'Z');
  t.doesNotThrow(() => process.kill(pid, 0), 'its pid still answers kill(pid, 0)');
  t.match(readStatus(db), { pid, alive: false, running: false }, 'yet status says not running');
});
