// `agent status` from the outbox file: the report, its text and JSON, and its exit code.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { formatStatus, readStatus } from '../agent/commands/status.js';
import { Outbox } from '../agent/outbox/outbox.js';
import { ownIdentity, type ProcessIdentity } from '../shared/process-identity.js';
import { position, T0 } from './helpers/agent-fixes.js';

const ROOT = join(import.meta.dirname, '..');
const exec = promisify(execFile);

function tmpDb(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-status-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'outbox.db');
}

/**
 * An outbox as a running agent leaves it: 10 fixes, 3 dropped, GPS and Kafka state. The agent's
 * process is this test's (status checks that it runs) unless `identity` says otherwise.
 */
function agentFile(
  db: string,
  wallNow: number,
  kafkaConnected: boolean,
  identity: ProcessIdentity = ownIdentity(),
): void {
  const ob = new Outbox(db, { maxRows: 7, now: () => wallNow });
  for (let i = 0; i < 10; i++) ob.append('bike-9', position(i));
  ob.setState('agent', { ...identity, startedAt: wallNow - 60_000, heartbeatAt: wallNow, stoppedAt: null });
  ob.setState('gps', {
    source: '/dev/ttyUSB0',
    state: 'connected',
    detail: null,
    fix: 'fix',
    fixes: 10,
    noFixes: 0,
    rejected: 0,
    lastFixAt: wallNow - 1000,
  });
  ob.setState('kafka', {
    connected: kafkaConnected,
    since: wallNow - 5000,
    lastAckAt: kafkaConnected ? wallNow - 1000 : null,
    lastError: kafkaConnected ? null : 'Connection error: connect ECONNREFUSED 10.0.0.1:9093',
    attempt: kafkaConnected ? 0 : 4,
  });
  ob.flush();
  ob.db.close(); // as after kill -9: no clean close
}

t.test('the report: backlog, ages on the GNSS timeline, drops, health', async (t) => {
  const db = tmpDb(t);
  const now = T0 + 3_600_000; // the Pi's clock is irrelevant to the backlog age
  agentFile(db, now, true);
  const r = readStatus(db, now + 2000);
  t.match(r, {
    running: true,
    pid: process.pid,
    alive: true,
    heartbeatAgeMs: 2000,
    // The newest stored fix (2 s ago) over the GPS state's own lastFixAt (3 s, written every 5 s).
    gps: { state: 'connected', fix: 'fix', lastFixAgeMs: 2000 },
    kafka: { connected: true },
    backlog: { rows: 7 },
    dropped: { count: 3 },
    healthy: true,
  });
  t.ok(r.backlog.bytes > 7 * 30, 'backlog bytes');
  // Oldest pending is seq 4 (time T0+3s), newest seq 10 (T0+9s) stored 2 s ago: 6 s + 2 s.
  t.equal(r.backlog.oldestAgeMs, 8000);
  t.match(r.devices[0], { deviceId: 'bike-9', nextSeq: 11, droppedThrough: 3, droppedCount: 3 });
  const text = formatStatus(r);
  t.match(text, new RegExp(`agent: +running \\(pid ${process.pid}\\)\n`));
  t.match(text, /gps: +\/dev\/ttyUSB0: connected, fix; last fix 2 s ago/);
  // Written with the state 2 s ago, 1 s after that ack: acks since then are not in the file.
  t.match(text, /kafka: +connected; last ack at most 3 s ago/);
  t.match(text, /backlog: +7 fixes, \d+ B, oldest 8 s ago/);
  t.match(text, /dropped: +3 fixes/);
  t.match(text, /bike-9: next seq 11, 7 unsent, .*3 dropped through seq 3/);
  const one = formatStatus({ ...r, backlog: { ...r.backlog, rows: 1 }, dropped: { count: 1 } });
  t.match(one, /backlog: +1 fix, /, 'one fix, not "1 fixes"');
  t.match(one, /dropped: +1 fix \(/);
  // Stopped: what it wrote is what it had when it stopped, not a bound on anything since.
  t.match(formatStatus({ ...r, running: false }), /last ack 3 s ago \[when it stopped/);
});

t.test(
  'an old heartbeat, with no way to check the process, means not running; Kafka down is unhealthy',
  async (t) => {
    const db = tmpDb(t);
    // A live pid but no start time recorded (an older agent): whose it is now cannot be told.
    agentFile(db, T0, false, { pid: process.pid });
    const r = readStatus(db, T0 + 90_000);
    t.equal(r.alive, null);
    t.equal(r.running, false);
    t.equal(r.healthy, false);
    t.match(formatStatus(r), /agent: +not running \(last seen 90 s ago\)/);
    t.match(formatStatus(r), /kafka: +disconnected \(4 failed attempts: Connection error/);
  },
);

t.test('a live agent whose state is old (a full card): running, unhealthy, and says so', async (t) => {
  const db = tmpDb(t);
  agentFile(db, T0, true);
  const r = readStatus(db, T0 + 90_000);
  t.match(r, { running: true, alive: true, heartbeatAgeMs: 90_000, healthy: false });
  t.match(
    formatStatus(r),
    /agent: +running \(pid \d+\), but its state was last written 90 s ago: the outbox cannot be written/,
  );
});

t.test("a pid that is someone else's now, or from before a reboot, is not the agent", async (t) => {
  const me = ownIdentity();
  t.ok(me.bootId && me.startTicks !== undefined, 'this machine has /proc');
  const cases: [string, ProcessIdentity][] = [
    ['the pid reused by a process that started later', { ...me, startTicks: me.startTicks! - 1 }],
    ['the pid from the boot before a power cut', { ...me, bootId: '00000000-0000-4000-8000-000000000000' }],
  ];
  for (const [what, identity] of cases) {
    const db = tmpDb(t);
    agentFile(db, Date.now(), true, identity);
    const r = readStatus(db);
    t.match(
      r,
      { alive: false, running: false, healthy: false },
      `${what}: not running, heartbeat fresh or not`,
    );
    t.ok(r.heartbeatAgeMs! < 15_000, 'though its heartbeat is fresh');
  }
});

t.test('a GPS that says fix but sends no position (junk, a wrong baud rate) is unhealthy', async (t) => {
  const db = tmpDb(t);
  const now = T0 + 3_600_000;
  agentFile(db, now, true);
  // The agent runs (heartbeat fresh), Kafka is connected, the last position is 42 s old.
  const ob = new Outbox(db, { now: () => now + 41_000 });
  ob.setState('agent', {
    ...ownIdentity(),
    startedAt: now - 60_000,
    heartbeatAt: now + 41_000,
    stoppedAt: null,
  });
  ob.flush();
  ob.db.close();
  const r = readStatus(db, now + 42_000);
  t.equal(r.running, true);
  t.equal(r.healthy, false, 'exit 1: it was 0 with the gps line saying "fix; last fix 42 s ago"');
  t.match(formatStatus(r), /gps: +\/dev\/ttyUSB0: connected, no new fix; last fix 42 s ago/);
});

t.test('the command: --json, exit codes, a missing file', async (t) => {
  const db = tmpDb(t);
  agentFile(db, Date.now(), true);
  const ok = await exec(
    process.execPath,
    ['--import', 'tsx', 'agent/main.ts', 'status', '--db', db, '--json'],
    {
      cwd: ROOT,
    },
  );
  const j = JSON.parse(ok.stdout) as { healthy: boolean; backlog: { rows: number } };
  t.equal(j.healthy, true, 'exit 0 when healthy');
  t.equal(j.backlog.rows, 7);
  const viaEnv = await exec(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'status'], {
    cwd: ROOT,
    env: { ...process.env, AGENT_DB: db },
  });
  t.match(viaEnv.stdout, /backlog: +7 fixes/, 'AGENT_DB names the file');
  const missing = await exec(
    process.execPath,
    ['--import', 'tsx', 'agent/main.ts', 'status', '--db', '/nonexistent/x.db'],
    {
      cwd: ROOT,
    },
  ).catch((e: { code: number; stderr: string }) => e);
  t.equal((missing as { code: number }).code, 1, 'exit 1 (not a usage error), as the README says');
  t.match(
    (missing as { stderr: string }).stderr,
    /agent status: cannot open the outbox \/nonexistent\/x\.db \(--db\): it does not exist/,
  );
  const help = await exec(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'status', '--help'], {
    cwd: ROOT,
  });
  t.match(help.stdout, /--json/);
});
