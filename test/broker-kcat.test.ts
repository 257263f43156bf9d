// librdkafka (kcat) against the broker: produce, consume from the beginning, list metadata,
// and read what kafkajs wrote (and the other way round) so both clients see the same log.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { consumeFromStart, inProcessBroker, kafka } from './helpers/broker-harness.js';

const run = promisify(execFile);

function kcatProduce(address: string, args: string[], input: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn('kcat', ['-b', address, '-P', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(code) : reject(new Error(`kcat -P exited ${code}: ${err}`)),
    );
    p.stdin.end(input);
  });
}

async function kcatConsume(address: string, topic: string): Promise<string[]> {
  const { stdout } = await run(
    'kcat',
    ['-b', address, '-C', '-t', topic, '-e', '-o', 'beginning', '-q', '-f', '%p|%o|%k|%s\n'],
    { timeout: 30_000 },
  );
  return stdout.split('\n').filter((l) => l !== '');
}

t.test('kcat produces and consumes; -L lists the topics', async (t) => {
  const b = await inProcessBroker(t, { defaultPartitions: 3 });
  const lines = Array.from({ length: 100 }, (_, i) => `dev-${i % 5}:line-${i}`);
  // -K: splits key:value; acks=all with librdkafka's idempotent producer.
  await kcatProduce(
    b.address,
    ['-t', 'kc', '-K', ':', '-X', 'enable.idempotence=true', '-X', 'acks=all'],
    `${lines.join('\n')}\n`,
  );
  const got = await kcatConsume(b.address, 'kc');
  t.equal(got.length, 100, 'all 100 lines read back');
  const byKey = new Map<string, string[]>();
  for (const l of got) {
    const [, , k, v] = l.split('|');
    byKey.set(k!, [...(byKey.get(k!) ?? []), v!]);
  }
  for (const [k, vs] of byKey) {
    const expected = lines.filter((l) => l.startsWith(`${k}:`)).map((l) => l.slice(k.length + 1));
    t.same(vs, expected, `${k} in order`);
  }

  const { stdout } = await run('kcat', ['-b', b.address, '-L'], { timeout: 30_000 });
  t.match(stdout, /topic "kc" with 3 partitions/, '-L shows the topic');
  t.match(stdout, new RegExp(`broker 1 at 127\\.0\\.0\\.1:${b.port}`), '-L shows this broker');
});

t.test('kafkajs and kcat read each other', async (t) => {
  const b = await inProcessBroker(t, { defaultPartitions: 1 });
  const producer = kafka(b.address).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await producer.send({
    topic: 'mixed',
    acks: -1,
    messages: Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: `from-kafkajs-${i}` })),
  });
  // gzip-compressed batch from librdkafka: stored as sent, decompressed by the readers.
  await kcatProduce(b.address, ['-t', 'mixed', '-z', 'gzip'], 'from-kcat-0\nfrom-kcat-1\n');
  const got = await kcatConsume(b.address, 'mixed');
  t.same(
    got.map((l) => l.split('|')[3]),
    [...Array.from({ length: 20 }, (_, i) => `from-kafkajs-${i}`), 'from-kcat-0', 'from-kcat-1'],
    'kcat reads kafkajs then its own records, in offset order',
  );
  const values: string[] = [];
  await consumeFromStart(t, b.address, { topic: 'mixed', groupId: 'mixed-reader' }, (message) => {
    values.push(message.value!.toString());
    return values.length === 22;
  });
  t.same(values.slice(20), ['from-kcat-0', 'from-kcat-1'], 'kafkajs reads the gzip batch kcat wrote');
});
