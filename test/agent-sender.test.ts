// The sender against the real embedded broker (broker/), read back with kafkajs and kcat.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Outbox } from '../agent/outbox/outbox.js';
import { capBytes, Sender } from '../agent/sender/sender.js';
import { position } from './helpers/agent-fixes.js';
import { kcatKeys, quietLog, readTopic, testBroker, until } from './helpers/agent-kafka.js';

const TOPIC = 'gps.fixes';

function outbox(t: Test, opts: { maxRows?: number } = {}): Outbox {
  const dir = mkdtempSync(join(tmpdir(), 'sender-'));
  const ob = new Outbox(join(dir, 'outbox.db'), opts);
  t.teardown(() => {
    ob.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return ob;
}

function sender(t: Test, ob: Outbox, brokers: string[]): Sender {
  const s = new Sender({
    outbox: ob,
    kafka: { brokers, clientId: 'agent-test' },
    topic: TOPIC,
    log: quietLog,
    backoff: { baseMs: 50, capMs: 400 },
    batchSize: 1000,
  });
  t.teardown(() => s.stop());
  return s;
}

t.test('live fixes reach Kafka keyed by device and leave the outbox only once acknowledged', async (t) => {
  const broker = await testBroker(t);
  const ob = outbox(t);
  const s = sender(t, ob, [broker.address]);
  s.start();
  for (let i = 0; i < 3; i++) {
    ob.append('bike-7', position(i));
    await until('the fix sent', () => ob.pendingCount() === 0);
  }
  t.ok(s.state.connected);
  const got = await readTopic(broker.address, TOPIC);
  t.same(
    got.map((g) => [g.key, g.fix.seq]),
    [
      ['bike-7', 1],
      ['bike-7', 2],
      ['bike-7', 3],
    ],
  );
  t.match(got[0]!.fix, { deviceId: 'bike-7', lat: 52.52, lon: 13.405, sats: 9, mode: 3 });
  t.equal(got[0]!.fix.droppedThrough, undefined);
  t.equal(s.stats.liveFixes, 3);
  t.equal(s.stats.drainFixes, 0);
});

t.test(
  'offline: collects, retries with backoff, then sends the newest first and the backlog oldest first',
  async (t) => {
    const broker = await testBroker(t);
    await broker.stop();
    const ob = outbox(t);
    const s = sender(t, ob, [broker.address]);
    const states: boolean[] = [];
    s.onState((st) => states.push(st.connected));
    s.start();
    for (let i = 0; i < 200; i++) ob.append('bike-1', position(i));
    await until('two failed attempts', () => s.state.attempt >= 2);
    t.equal(s.state.connected, false);
    t.match(s.state.lastError, /ECONNREFUSED|Connection|connect/i);
    t.equal(ob.pendingCount(), 200, 'nothing leaves the outbox while offline');

    await broker.restart();
    await until('backlog drained', () => ob.pendingCount() === 0);
    t.equal(s.state.connected, true);
    t.equal(states.at(-1), true);
    const got = await readTopic(broker.address, TOPIC);
    const seqs = got.map((g) => g.fix.seq);
    t.equal(seqs[0], 200, 'the newest fix goes first');
    t.same(
      seqs.slice(1),
      Array.from({ length: 199 }, (_, i) => i + 1),
      'then the backlog, oldest first',
    );
    t.equal(new Set(got.map((g) => g.partition)).size, 1, 'one device, one partition');
    t.equal(s.stats.liveFixes, 1);
    t.equal(s.stats.drainFixes, 199);
    t.ok(
      s.stats.drainBytes / s.stats.drainFixes < (s.stats.liveBytes / s.stats.liveFixes) * 0.5,
      `gzip batches cost less per fix: drain ${(s.stats.drainBytes / s.stats.drainFixes).toFixed(1)} B vs live ${(s.stats.liveBytes / s.stats.liveFixes).toFixed(1)} B`,
    );
    t.same(
      (await kcatKeys(broker.address, TOPIC)).length,
      200,
      'librdkafka reads the same 200 records (gzip batches included)',
    );
  },
);

t.test('after the outbox dropped fixes, every fix sent carries droppedThrough', async (t) => {
  const broker = await testBroker(t);
  const ob = outbox(t, { maxRows: 10 });
  for (let i = 0; i < 25; i++) ob.append('bike-3', position(i));
  const s = sender(t, ob, [broker.address]);
  s.start();
  await until('sent', () => ob.pendingCount() === 0);
  ob.append('bike-3', position(25));
  await until('sent', () => ob.pendingCount() === 0);
  const got = await readTopic(broker.address, TOPIC);
  t.same(
    got.map((g) => g.fix.seq),
    [25, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26],
  );
  t.ok(
    got.every((g) => g.fix.droppedThrough === 15),
    'droppedThrough 15 on all',
  );
});

t.test(
  'a broker name that does not resolve is just offline: no crash, nothing lost, stop returns',
  async (t) => {
    const ob = outbox(t);
    const s = sender(t, ob, ['no-such-broker.invalid:9092']);
    s.start();
    ob.append('bike-1', position(0));
    await until('a failed attempt', () => s.state.attempt >= 1);
    t.match(s.state.lastError, /ENOTFOUND|EAI_AGAIN|getaddrinfo|Connection/i);
    await s.stop(); // returns (a hung stop would time the test out)
    t.equal(ob.pendingCount(), 1);
  },
);

t.test('many devices: each device keyed on its own, every fix once', async (t) => {
  const broker = await testBroker(t);
  const ob = outbox(t);
  const devices = Array.from({ length: 20 }, (_, i) => `bike-${i}`);
  for (let i = 0; i < 30; i++)
    ob.appendMany(devices.map((deviceId) => ({ deviceId, position: position(i) })));
  const s = sender(t, ob, [broker.address]);
  s.start();
  await until('sent', () => ob.pendingCount() === 0);
  const got = await readTopic(broker.address, TOPIC);
  t.equal(got.length, 600);
  const ids = new Set(got.map((g) => `${g.key}/${g.fix.seq}`));
  t.equal(ids.size, 600, 'no (device, seq) twice');
  t.ok(
    got.every((g) => g.key === g.fix.deviceId),
    'key = device id',
  );
  const partitionOf = new Map<string, number>();
  const moved = got.filter(
    (g) => (partitionOf.get(g.key) ?? g.partition) !== partitionOf.set(g.key, g.partition).get(g.key),
  );
  t.same(moved, [], 'each device stays on one partition');
  t.ok(new Set(partitionOf.values()).size > 1, 'devices spread over partitions');
});

t.test('a backlog batch stays under the byte cap', async (t) => {
  const rows = Array.from({ length: 100 }, (_, i) => ({
    dev: 1,
    deviceId: 'bike-1',
    seq: i + 1,
    time: 0,
    body: Buffer.alloc(44),
    droppedThrough: 0,
  }));
  t.equal(capBytes(rows, 500).length, 10, '10 x (44 + 6) bytes fit in 500');
  t.equal(capBytes(rows, 10).length, 1, 'always at least one row');
  t.equal(capBytes(rows, 1e9).length, 100);
});
