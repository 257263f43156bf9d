// The real `agent run` under a wall clock that jumps, as a Raspberry Pi's does: it boots at
// fake-hwclock's last saved time and NTP steps it forward once the network is up, just when the
// Kafka link is still failing. A jump is not time passing: the watchdog must keep being fed
// (systemd would otherwise kill a healthy agent), and every fix must still reach Kafka once.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { readStatus, type StatusReport } from '../agent/commands/status.js';
import { readTopic, testBroker, until } from './helpers/agent-kafka.js';
import { notifyListener } from './helpers/agent-notify.js';
import { exited, spawnAgent } from './helpers/agent-process.js';
import { steppedClock } from './helpers/faketime.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/sirfstarv-nmea.log');
const FIXES_IN_FIXTURE = 59; // `agent decode --one-per-second` of it

interface LogLine {
  msg: string;
  delayMs?: number;
  problem?: string;
}

function logLines(out: string[]): LogLine[] {
  return out
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The agent from sources, logging at debug unless `env` says otherwise. */
const agent = (t: Test, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnAgent(t, args, { LOG_LEVEL: 'debug', ...env });

const unhealthy = (out: string[]) => logLines(out).filter((l) => l.msg.startsWith('unhealthy'));
/** The sender's backoff waits so far ("sender: retrying later", a debug line). */
const backoffs = (out: string[]) => logLines(out).filter((l) => l.msg === 'sender: retrying later');

t.test(
  'NTP steps the clock 30 days forward while Kafka is down: the watchdog stays fed, nothing lost',
  async (t) => {
    const clock = steppedClock(t, '-30d'); // booted at fake-hwclock's time, a month behind
    const broker = await testBroker(t);
    await broker.stop(); // the network is not up yet: Kafka refuses, the sender backs off
    const notify = await notifyListener(t);
    const dir = mkdtempSync(join(tmpdir(), 'agent-clock-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const { child, out } = agent(
      t,
      [
        'run',
        '--replay',
        FIXTURE,
        '--speed',
        '10',
        '--device',
        'bike-ntp',
        '--db',
        join(dir, 'outbox.db'),
        '--brokers',
        broker.address,
      ],
      // The watchdog is asked every 500 ms (WatchdogSec/2).
      { ...clock.env, NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' },
    );
    await notify.waitFor('the watchdog fed', (m) => m === 'WATCHDOG=1', 60_000);
    // A long backoff: the sender sleeps (a monotonic timer, which the step does not shorten) for
    // 4-8 s, and the watchdog is asked every 500 ms meanwhile.
    await until('a backoff of 4 s or more', () => backoffs(out).some((l) => l.delayMs! >= 4000), 120_000);
    const feeds = () => notify.messages.filter((m) => m === 'WATCHDOG=1').length;
    const waits = backoffs(out).length;
    const fedBefore = feeds();
    clock.set('+0'); // NTP: the wall clock jumps a month forward, in one step
    await until('the sender trying again', () => backoffs(out).length > waits, 120_000);
    // Fed all through the backoff (one feed may be a tick from before the step, hence two).
    const fedWhileWaiting = feeds() - fedBefore;
    t.ok(fedWhileWaiting >= 2, `the watchdog was fed while the sender waited (${fedWhileWaiting} times)`);
    t.same(unhealthy(out), [], 'never unhealthy: a clock step is not a stuck sender');
    t.equal(child.exitCode, null, 'the agent still runs (the same process: not restarted)');

    // The network comes up: the real broker on the same address gets every fix, once.
    await broker.restart();
    const code = await exited(child);
    t.equal(code, 0, 'exits 0 once every fix is sent');
    if (code !== 0) t.comment(out.join(''));
    const got = await readTopic(broker.address, 'gps.fixes');
    t.same(
      got.map((g) => g.fix.seq).sort((a, b) => a - b),
      Array.from({ length: FIXES_IN_FIXTURE }, (_, i) => i + 1),
      'every fix exactly once',
    );
    t.same(unhealthy(out), [], 'never unhealthy, to the end');
  },
);

/** `agent status --json` as its own process, on the stepped clock as the agent is. */
async function status(db: string, env: NodeJS.ProcessEnv): Promise<{ code: number; report: StatusReport }> {
  const r = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'agent/main.ts'), 'status', '--json', '--db', db],
    { cwd: ROOT, env: { ...process.env, ...env } },
  ).then(
    (ok) => ({ code: 0, stdout: ok.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );
  return { code: r.code, report: JSON.parse(r.stdout) as StatusReport };
}

t.test('status of a hung agent across clock steps: still hung, and ages stay true', async (t) => {
  const clock = steppedClock(t, '+0');
  const broker = await testBroker(t);
  const dir = mkdtempSync(join(tmpdir(), 'agent-clock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'outbox.db');
  const { child } = agent(
    t,
    ['run', '--replay', FIXTURE, '--loop', '--device', 'bike-hang', '--db', db, '--brokers', broker.address],
    clock.env,
  );
  await until(
    'the agent healthy (a fix, Kafka connected, an ack)',
    () => {
      try {
        const r = readStatus(db);
        return r.healthy && r.kafka?.lastAckAgeMs != null;
      } catch {
        return false; // not created yet
      }
    },
    60_000,
  );
  // It hangs: alive, but nothing runs, so its heartbeat, last fix and last ack grow old.
  child.kill('SIGSTOP');
  await until('status calling it hung', () => readStatus(db).heartbeatAgeMs! >= 15_000, 60_000);

  // A step back (an administrator, a bad time source): every stored moment is now in the future.
  clock.set('-1d');
  const back = await status(db, clock.env);
  t.equal(back.code, 1, 'exit 1: not healthy');
  t.equal(back.report.healthy, false);
  t.ok(back.report.heartbeatAgeMs! >= 15_000, 'its state is still old, not fresh');
  t.ok(back.report.gps!.lastFixAgeMs! >= 15_000, 'its last fix is still old: no fix now');

  // A step forward (NTP after a boot on fake-hwclock's time): the ages are not a month.
  clock.set('+30d');
  const fwd = await status(db, clock.env);
  t.equal(fwd.code, 1, 'exit 1: not healthy');
  const DAY = 86_400_000;
  const under = (ms: number | null | undefined) => typeof ms === 'number' && ms < DAY;
  t.ok(under(fwd.report.heartbeatAgeMs), `heartbeat ${fwd.report.heartbeatAgeMs} ms ago, not a month`);
  t.ok(under(fwd.report.gps?.lastFixAgeMs), `last fix ${fwd.report.gps!.lastFixAgeMs} ms ago, not a month`);
  t.ok(
    under(fwd.report.kafka?.lastAckAgeMs),
    `last ack ${fwd.report.kafka!.lastAckAgeMs} ms ago, not a month`,
  );
  t.ok(
    under(fwd.report.devices[0]?.lastFixAgeMs),
    `the device's last fix ${fwd.report.devices[0]!.lastFixAgeMs} ms ago, not a month`,
  );
  child.kill('SIGKILL');
});

t.test('a step back does not freeze the simulated fleet', async (t) => {
  const clock = steppedClock(t, '+0');
  const broker = await testBroker(t);
  await broker.stop(); // offline: the fleet's fixes pile up in its outbox, where they are counted
  const dir = mkdtempSync(join(tmpdir(), 'agent-clock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'sim.db');
  agent(t, ['simulate', '--devices', '1', '--db', db, '--brokers', broker.address], clock.env);
  const stored = () => {
    try {
      return (readStatus(db).devices[0]?.nextSeq ?? 1) - 1;
    } catch {
      return 0; // not created yet
    }
  };
  await until('the fleet riding', () => stored() >= 2, 60_000);
  clock.set('-1d');
  const before = stored();
  // On the wall clock the next tick was due a day later: the riders stood still that long.
  await until('three more fixes after the step', () => stored() >= before + 3, 60_000);
  t.ok(stored() >= before + 3, 'the fleet rides on');
});

t.test("a step back does not stop the outbox's quiet flush", async (t) => {
  const clock = steppedClock(t, '+0');
  const dir = mkdtempSync(join(tmpdir(), 'agent-clock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'outbox.db');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/helpers/outbox-idle-child.ts'), db],
    { cwd: ROOT, env: { ...process.env, ...clock.env }, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let said = '';
  child.stdout!.on('data', (d: Buffer) => (said += d.toString()));
  await until('a fix stored', () => said.includes('stored'), 60_000);
  clock.set('-1h');
  child.stdin!.write('send\n');
  await until('marked sent', () => said.includes('sent'), 60_000);
  // Nothing else will commit: the delete of the acknowledged row is the quiet flush's (a second
  // after the last commit). On the wall clock that second came an hour later; a crash meanwhile
  // sends the fix again.
  await until('the acknowledged row deleted', () => readStatus(db).backlog.rows === 0, 60_000);
  t.equal(readStatus(db).backlog.rows, 0, 'the outbox is empty');
});
