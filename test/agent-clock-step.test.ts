// The real `agent run` under a wall clock that jumps, as a Raspberry Pi's does: it boots at
// fake-hwclock's last saved time and NTP steps it forward once the network is up, just when the
// Kafka link is still failing. A jump is not time passing: the watchdog must keep being fed
// (systemd would otherwise kill a healthy agent), and every fix must still reach Kafka once.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readTopic, testBroker, until } from './helpers/agent-kafka.js';
import { notifyListener } from './helpers/agent-notify.js';
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

function agent(t: Test, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; out: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, out };
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code)),
  );

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
