// The pipeline's health (what feeds the systemd watchdog): healthy while offline or without GPS,
// unhealthy once the outbox cannot be written.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ReplaySource } from '../agent/gps/replay-source.js';
import { Outbox } from '../agent/outbox/outbox.js';
import { AgentPipeline } from '../agent/pipeline.js';
import { Sender } from '../agent/sender/sender.js';
import { quietLog, until } from './helpers/agent-kafka.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/nmea/sirfstarv-nmea.log');

t.test('offline is healthy; a dead outbox is not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-health-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const outbox = new Outbox(join(dir, 'outbox.db'));
  const source = new ReplaySource({ file: FIXTURE, speed: 50, loop: true, log: quietLog }).start();
  const sender = new Sender({
    outbox,
    kafka: { brokers: ['127.0.0.1:1'] }, // nothing listens: offline
    topic: 'gps.fixes',
    log: quietLog,
    backoff: { baseMs: 50, capMs: 200 },
  });
  const pipeline = new AgentPipeline({ deviceId: 'bike-h', source, outbox, sender, log: quietLog });
  const ended = pipeline.start();
  await until('fixes stored', () => (outbox.stats()[0]?.nextSeq ?? 0) > 5);
  await until('Kafka known to be down', () => sender.state.attempt >= 1);
  t.equal(pipeline.health(), null, 'offline is healthy: the outbox collects');
  t.equal(pipeline.gps.fix, 'fix');

  // The card goes away under the agent: every write fails from now on.
  outbox.db.close();
  await until('a failed write', () => pipeline.health() !== null);
  t.match(pipeline.health(), /^outbox write failed: /);
  await source.close();
  await ended;
  await sender.stop();
});
