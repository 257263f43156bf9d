// The ingest process against a broker that is SIGKILLed and restarted (same port, same data dir)
// while the ingest starts, connects and joins its groups: it must keep trying, never exit, never
// sit idle, and in the end store every fix exactly once. Seen in CI (e2e-broker-faults): a broker
// kill while the second group was still connecting made startIngest throw, so the whole ingest
// exited 1 and nothing more was stored.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import t from 'tap';
import { encodeFix } from '../shared/fixcodec.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { type ChildBroker, childBroker } from './helpers/broker-harness.js';
import { makeFix } from './helpers/ingest-backends.js';
import { startIngestChild } from './helpers/ingest-child.js';
import { waitFor } from './helpers/ingest-kafka.js';
import { range, storedSeqsIn } from './helpers/stack.js';

const TOKEN = 'test-token-0123456789abcdef';
const DEVICE = 'rider-r1';

const startIngest = (env: NodeJS.ProcessEnv) => startIngestChild(['run', '--flush-ms', '50'], env);

async function produce(address: string, seqs: number[]): Promise<void> {
  const kafka = kafkaClient({ clientId: 'resilience-test', brokers: [address], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic: 'gps.fixes',
      acks: -1,
      messages: seqs.map((s) => ({ key: DEVICE, value: encodeFix(makeFix(DEVICE, s)) })),
    });
  } finally {
    await producer.disconnect();
  }
}

const storedSeqs = (dbPath: string) => storedSeqsIn(dbPath, DEVICE);

async function health(url: string): Promise<{ status: number; body: { checks?: Record<string, string> } }> {
  const r = await fetch(`${url}/healthz`);
  return { status: r.status, body: (await r.json()) as { checks?: Record<string, string> } };
}

t.test(
  'broker SIGKILLed while the ingest starts, connects and joins: it keeps trying, stores all once',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-resilience-'));
    const dataDir = join(dir, 'broker');
    const dbPath = join(dir, 'ingest.db');
    let broker: ChildBroker = await childBroker(t, dataDir, ['--default-partitions', '4']);
    const port = broker.port;
    const restartBroker = async () => {
      broker = await childBroker(t, dataDir, ['--default-partitions', '4', '--port', String(port)], {
        logLevel: 'info',
      });
    };
    await produce(broker.address, range(1, 50));
    // Down before the ingest starts: its first connect attempts all fail, for longer than kafkajs's
    // own connect retries last.
    await broker.kill9();

    const ingest = startIngest({
      KAFKA_BROKERS: `127.0.0.1:${port}`,
      INGEST_SQLITE_PATH: dbPath,
      INGEST_GROUPS: 'fix-store,live',
      INGEST_TOKEN: TOKEN,
      INGEST_HTTP_PORT: '0',
      INGEST_SESSION_TIMEOUT_MS: '6000',
    });
    t.teardown(async () => {
      if (ingest.exit() === null) {
        ingest.proc.kill('SIGKILL');
        await ingest.exited;
      }
      rmSync(dir, { recursive: true, force: true });
    });
    const says = (msg: string, group?: string) =>
      ingest.lines.filter((l) => l.msg === msg && (group === undefined || l.group === group)).length;

    // kafkajs gives up connecting after ~10 s; before the fix that ended the process.
    await waitFor(
      () =>
        says('consumer down; starting a new one', 'fix-store') >= 1 || ingest.exit() !== null
          ? true
          : undefined,
      100,
    );
    t.equal(
      ingest.exit(),
      null,
      `still running with the broker away (stderr: ${ingest.stderr().slice(0, 400)})`,
    );
    const url = ingest.lines.find((l) => l.msg === 'HTTP server listening')?.url;
    t.ok(url, 'the HTTP server is up although Kafka is not');
    const down = await health(url!);
    t.equal(down.status, 503, '/healthz: not ready while no group has a live consumer');
    t.match(down.body.checks?.['group:fix-store'] ?? '', /^error: /, 'and it names the group');

    // Back, then killed again just as a group joins (the consumer's connect/join/restart phases),
    // three times. A round ends at the first sign that the ingest works with the new broker: a
    // group joined, or that round's probe fix stored. Both are needed: a consumer whose broker
    // was killed after its generation was persisted rides the outage out inside kafkajs's own
    // retries, and the restarted broker restores the group Stable with it (broker/groups/README.md,
    // Restart), so it carries on heartbeating and fetching without a new join. Waiting for a join
    // alone then waited for ever, which looked like an ingest that went silent (it was consuming).
    for (let round = 0; round < 3; round++) {
      const joinedBefore = says('joined group');
      await restartBroker();
      const probe = 51 + round;
      await produce(broker.address, [probe]);
      const how = await waitFor(() => {
        if (ingest.exit() !== null) return 'exited';
        if (says('joined group') > joinedBefore) return 'joined';
        return storedSeqs(dbPath).includes(probe) ? 'carried on' : undefined;
      }, 50);
      t.comment(`round ${round + 1}: ${how}`);
      await broker.kill9();
      t.equal(ingest.exit(), null, `round ${round + 1}: still running after the kill during the join`);
      await new Promise((r) => setTimeout(r, 300 + round * 700));
    }
    await restartBroker();
    await produce(broker.address, range(54, 100));

    const seqs = await waitFor(() => {
      if (ingest.exit() !== null) return [];
      const s = storedSeqs(dbPath);
      return s.length >= 100 ? s : undefined;
    }, 200);
    t.same(seqs, range(1, 100), 'every fix stored once, none missing');
    t.equal(ingest.exit(), null, 'the ingest is still running');
    const ok = await waitFor(async () => {
      const h = await health(url!);
      return h.status === 200 ? h : undefined;
    }, 200);
    t.same(ok.body.checks?.['group:live'], 'ok', '/healthz ready again, every group live');

    ingest.proc.kill('SIGTERM');
    await ingest.exited;
    t.equal(ingest.exit(), 0, 'clean exit on SIGTERM');
  },
);

t.test('SIGTERM while Kafka has never been reachable: a clean exit 0, not a kill', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-resilience-'));
  // A port nothing listens on: a broker started and SIGKILLed.
  const broker = await childBroker(t, join(dir, 'broker'));
  const port = broker.port;
  await broker.kill9();
  const ingest = startIngest({
    KAFKA_BROKERS: `127.0.0.1:${port}`,
    INGEST_SQLITE_PATH: join(dir, 'ingest.db'),
    INGEST_GROUPS: 'fix-store',
    INGEST_HTTP: 'false',
  });
  t.teardown(async () => {
    if (ingest.exit() === null) {
      ingest.proc.kill('SIGKILL');
      await ingest.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  // Up and waiting for Kafka (the DLQ producer's first connect attempt failed and is retried).
  await waitFor(
    () =>
      ingest.lines.some((l) => l.msg === 'Kafka step failed; retrying') || ingest.exit() !== null
        ? true
        : undefined,
    50,
  );
  t.equal(ingest.exit(), null, 'running while Kafka is away');
  ingest.proc.kill('SIGTERM');
  await ingest.exited;
  t.equal(ingest.exit(), 0, `exit 0 on SIGTERM (stderr: ${ingest.stderr().slice(0, 300)})`);
});
