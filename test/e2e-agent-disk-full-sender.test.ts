// The rider's SD card full when the sender deletes what Kafka acknowledged (the agent runs under
// a file-size limit, ulimit -f, so once its outbox's WAL reaches it every commit fails with
// EFBIG, as on a full card): that is the disk's failure, and the agent must say so, not report
// Kafka as unreachable; once there is room (prlimit from outside) it deletes, drains and stops.
// The agent's own writes to a full card are e2e-agent-disk-full.test.ts.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { formatStatus, readStatus } from '../agent/commands/status.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { eventually, freePort, withStack } from './helpers/stack.js';

const EPOCHS = 3000;

t.test('the sender cannot delete what Kafka acknowledged (card full): the disk is named, not Kafka', (t) =>
  withStack(t, async (stack) => {
    const id = 'rider-drain';
    const name = `agent-${id}`;
    const first = join(stack.dir, 'first.nmea');
    const second = join(stack.dir, 'second.nmea');
    writeNmeaTrack(first, { epochs: EPOCHS, startMs: Date.UTC(2026, 10, 25, 9, 0, 0) });
    writeNmeaTrack(second, { epochs: 1500, startMs: Date.UTC(2026, 10, 25, 11, 0, 0) });
    const logFile = join(stack.dir, 'logs', `${name}.log`);
    const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

    // Kafka down (nothing on its port yet): a backlog piles up, on a card with room.
    stack.brokerPort = await freePort();
    stack.startAgent(id, { file: first, speed: 100 });
    t.ok(
      await eventually(() => stack.outbox(id).pending >= 1000, 120_000),
      'a backlog of 1000 fixes while Kafka is down',
    );
    t.equal(await stack.kill(name, 'SIGTERM'), 0, 'stopped cleanly, the backlog kept');

    // Again on a card that is full within a second; then Kafka comes back. The sender's first
    // backlog batch is acknowledged, and deleting it (more than the outbox defers) must commit.
    const mark = log().length;
    const since = () => log().slice(mark);
    stack.startAgent(id, { file: second, speed: 100, fileSizeLimitKb: 512 });
    t.ok(await eventually(() => /outbox write failed/.test(since()), 60_000), 'the card is full');
    await stack.startBroker();
    t.ok(
      await eventually(() => /sender: the outbox failed \(local disk, not Kafka\)/.test(since()), 60_000),
      "the sender logs the failed delete as the disk's",
    );
    t.match(since(), /sender: connected to Kafka/, 'and Kafka as connected: it acknowledged the batch');
    const disk = since()
      .split('\n')
      .filter((l) => l.includes('sender: the outbox failed'))
      .map((l) => JSON.parse(l) as { err: string });
    t.match(disk[0]?.err, /disk|full/i, `naming the disk's error: ${disk[0]?.err}`);

    // Room again: the deletes commit, the backlog drains, the replay ends.
    execFileSync('prlimit', ['--pid', String(stack.pid(name)), '--fsize=unlimited:']);
    t.equal(await stack.exited(name), 0, 'once there is room it sends all and stops');
    const s = readStatus(stack.agentDb(id));
    t.equal(s.backlog.rows, 0, 'every acknowledged row deleted');
    t.match(s.disk, { error: null, lastError: /disk|full/i }, 'status: the outbox failed, and works again');
    t.ok(s.disk!.failures >= 1, `${s.disk!.failures} outbox failures counted`);
    t.notMatch(
      s.kafka?.lastError ?? '',
      /disk|full|database|SQLITE/i,
      `Kafka's last error is its own: ${s.kafka?.lastError}`,
    );
    t.match(s.kafka, { connected: true, attempt: 0 });
    t.match(formatStatus(s), /\ndisk: +ok; the outbox failed \d+ times, last \d+ s ago: .*(disk|full)/i);
  }),
);
