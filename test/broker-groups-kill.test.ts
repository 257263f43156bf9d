// A consumer killed without leaving (SIGKILL of its process): after the session timeout its
// partitions move to the survivor, which resumes from the committed offsets. Nothing is skipped;
// the only duplicates are messages the dead consumer had not committed.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import {
  committedOffsets,
  groupBrokerWithAdmin,
  produce,
  type Received,
  SESSION_MS,
  stableWith,
  startConsumer,
  waitFor,
} from './helpers/broker-groups.js';

const TOPIC = 'rides';
const GROUP = 'tracker';

t.test('SIGKILLed consumer: partitions move to the survivor, consumption resumes from commits', async (t) => {
  const { broker, kafka, admin } = await groupBrokerWithAdmin(t);
  let victim: ChildProcess | undefined;
  const survivorGot: Received[] = [];
  const survivor = { consumer: undefined as Awaited<ReturnType<typeof startConsumer>> | undefined };
  t.teardown(async () => {
    if (victim && victim.exitCode === null && victim.signalCode === null) victim.kill('SIGKILL');
    await survivor.consumer?.disconnect().catch(() => {});
  });
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 4 }], waitForLeaders: true });

  const victimGot: Received[] = [];
  let victimPartitions: number[] = [];
  victim = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'helpers/broker-groups-consumer.ts')],
    {
      env: {
        ...process.env,
        BROKER: broker.address,
        GROUP,
        TOPIC,
        CLIENT_ID: 'victim',
        SESSION_MS: String(SESSION_MS),
        COMMIT_FIRST: '6',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const victimExited = new Promise<void>((resolve) => victim!.once('exit', () => resolve()));
  createInterface({ input: victim.stdout! }).on('line', (line) => {
    const m = JSON.parse(line) as { joined?: { partitions: number[] }; p: number; o: number; v: string };
    if (m.joined) victimPartitions = m.joined.partitions;
    else victimGot.push({ consumer: 'victim', partition: m.p, offset: m.o, value: m.v });
  });

  survivor.consumer = await startConsumer(kafka, {
    groupId: GROUP,
    topic: TOPIC,
    name: 'survivor',
    into: survivorGot,
  });
  const before = await stableWith(admin, GROUP, TOPIC, 2);
  const v = before.members.find((m) => m.clientId === 'victim')!;
  t.equal(v.partitions.length, 2, 'the victim owns half the partitions');
  await waitFor('victim saw its assignment', () =>
    victimPartitions.length === 2 && victimPartitions.every((p) => v.partitions.includes(p))
      ? true
      : undefined,
  );

  const batchA = Array.from({ length: 40 }, (_, i) => `a-${i}`);
  await produce(kafka, TOPIC, batchA);
  const all = () => [...victimGot, ...survivorGot];
  await waitFor('batch A consumed', () => (new Set(all().map((r) => r.value)).size >= 40 ? true : undefined));
  const victimCount = victimGot.length;
  t.ok(victimCount > 6, `the victim consumed ${victimCount} messages, committing only the first 6`);

  const killedAt = Date.now();
  victim.kill('SIGKILL');
  await victimExited;
  const atKill = await committedOffsets(admin, GROUP, TOPIC);

  const batchB = Array.from({ length: 40 }, (_, i) => `b-${i}`);
  await produce(kafka, TOPIC, batchB);
  const after = await stableWith(admin, GROUP, TOPIC, 1);
  t.comment(`partitions moved ${Date.now() - killedAt} ms after the kill (session timeout ${SESSION_MS} ms)`);
  t.same(after.members[0]!.partitions, [0, 1, 2, 3], 'the survivor owns every partition');
  await waitFor(
    'every message of both batches consumed',
    () => (new Set(all().map((r) => r.value)).size >= 80 ? true : undefined),
    3 * SESSION_MS,
  );
  await new Promise((r) => setTimeout(r, 500));

  // Nothing skipped: each partition's consumed offsets are contiguous from 0 to its end.
  const ends = await admin.fetchTopicOffsets(TOPIC);
  for (const { partition, high } of ends) {
    const offsets = new Set(
      all()
        .filter((r) => r.partition === partition)
        .map((r) => r.offset),
    );
    t.equal(offsets.size, Number(high), `partition ${partition}: every offset below ${high} consumed`);
  }
  // Resumed exactly at the committed offsets of the victim's partitions.
  for (const p of v.partitions) {
    const resumed = Math.min(...survivorGot.filter((r) => r.partition === p).map((r) => r.offset));
    const committed = atKill.get(p) ?? -1;
    t.equal(resumed, Math.max(committed, 0), `partition ${p}: survivor resumed at the committed offset`);
  }
  // Duplicates only where the victim had not committed.
  const seen = new Map<string, number>();
  for (const r of all())
    seen.set(`${r.partition}/${r.offset}`, (seen.get(`${r.partition}/${r.offset}`) ?? 0) + 1);
  const dups = [...seen].filter(([, n]) => n > 1).map(([k]) => k.split('/').map(Number) as [number, number]);
  t.ok(dups.length > 0, `${dups.length} uncommitted messages were redelivered`);
  for (const [p, o] of dups) {
    t.ok(
      v.partitions.includes(p) && o >= (atKill.get(p) ?? 0),
      `duplicate ${p}/${o} was uncommitted at the kill`,
    );
  }
  t.equal(
    dups.length,
    v.partitions.reduce((n, p) => {
      const victimEnd = Math.max(-1, ...victimGot.filter((r) => r.partition === p).map((r) => r.offset)) + 1;
      return n + Math.max(0, victimEnd - Math.max(0, atKill.get(p) ?? 0));
    }, 0),
    'exactly the uncommitted messages were redelivered, once each',
  );
});
