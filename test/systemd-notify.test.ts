// sd_notify through the real systemd-notify binary to a real unix datagram socket.
import t from 'tap';
import { SystemdNotifier } from '../agent/service/notify.js';
import { startWatchdog } from '../agent/service/watchdog.js';
import { notifyListener } from './helpers/agent-notify.js';

t.test('READY, STATUS and STOPPING reach the notify socket (barrier honoured)', async (t) => {
  const l = await notifyListener(t);
  const n = new SystemdNotifier({ env: { ...process.env, NOTIFY_SOCKET: l.path } });
  t.ok(n.enabled);
  t.equal(n.watchdogMs, undefined, 'no WATCHDOG_USEC, no watchdog');
  await n.ready('reading /dev/ttyUSB0');
  await n.stopping();
  t.ok(
    l.messages.some((m) => m.split('\n').includes('READY=1') && m.includes('STATUS=reading /dev/ttyUSB0')),
  );
  t.ok(l.messages.some((m) => m === 'STOPPING=1'));
  t.ok(l.messages.includes('BARRIER=1'), 'systemd-notify waited for the message to be read');
});

t.test('without NOTIFY_SOCKET everything is a no-op', async (t) => {
  const n = new SystemdNotifier({ env: {} });
  t.equal(n.enabled, false);
  await n.ready();
  await n.watchdog();
  t.pass('every call resolves without a socket');
});

t.test('the watchdog is fed only while the health check passes', async (t) => {
  const l = await notifyListener(t);
  const n = new SystemdNotifier({
    env: {
      ...process.env,
      NOTIFY_SOCKET: l.path,
      WATCHDOG_USEC: '400000',
      WATCHDOG_PID: String(process.pid),
    },
  });
  t.equal(n.watchdogMs, 400);
  let problem: string | null = null;
  // Record the health at every ping the watchdog decides to send (the pings themselves are real).
  const sentWhile: (string | null)[] = [];
  const ping = n.watchdog.bind(n);
  n.watchdog = () => {
    sentWhile.push(problem);
    return ping();
  };
  const stop = startWatchdog(n, () => problem);
  t.teardown(stop);
  const pings = () => l.messages.filter((m) => m === 'WATCHDOG=1').length;
  await l.waitFor('a first ping', (m) => m === 'WATCHDOG=1');
  problem = 'outbox write failed';
  const callsBefore = sentWhile.length;
  await new Promise((r) => setTimeout(r, 1200)); // six ticks while unhealthy
  t.equal(sentWhile.length, callsBefore, 'no ping while unhealthy');
  problem = null;
  const before = pings();
  await l.waitFor('pings again', () => pings() > before);
  t.ok(
    sentWhile.every((p) => p === null),
    'every ping was sent while healthy',
  );
});

t.test('a watchdog meant for another process (WATCHDOG_PID) is not fed from here', async (t) => {
  const n = new SystemdNotifier({
    env: { NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' },
  });
  t.equal(n.watchdogMs, undefined);
});
