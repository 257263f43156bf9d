// Consumer groups end to end: kafkajs clients against the real broker (ephemeral port, temp dir).
// The classic cases: more consumers than partitions, one consumer for all, pub-sub across groups,
// queue within a group, and a clean leave handing partitions over.
import type { Consumer } from 'kafkajs';
import t, { type Test } from 'tap';
import {
  committedOffsets,
  groupBrokerWithAdmin,
  produce,
  type Received,
  stableWith,
  startConsumer,
  waitFor,
} from './helpers/broker-groups.js';

async function setup(t: Test, topic: string, partitions: number) {
  const { broker, kafka, admin } = await groupBrokerWithAdmin(t);
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  const consumers: Consumer[] = [];
  t.teardown(async () => {
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => {})));
  });
  return { broker, kafka, admin, consumers };
}

const values = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

t.test('3 partitions, 4 consumers: each partition to exactly one consumer, one consumer idle', async (t) => {
  const { kafka, admin, consumers } = await setup(t, 'four', 3);
  const got: Received[] = [];
  for (let i = 0; i < 4; i++) {
    consumers.push(await startConsumer(kafka, { groupId: 'g4', topic: 'four', name: `c${i}`, into: got }));
  }
  const group = await stableWith(admin, 'g4', 'four', 4);
  const all = group.members.flatMap((m) => m.partitions).sort();
  t.same(all, [0, 1, 2], 'every partition assigned exactly once');
  t.equal(group.members.filter((m) => m.partitions.length === 0).length, 1, 'one consumer idle');
  t.equal(group.members.filter((m) => m.partitions.length === 1).length, 3);

  const sent = values('four', 60);
  await produce(kafka, 'four', sent);
  await waitFor('all 60 messages consumed', () => (got.length >= 60 ? true : undefined));
  t.same(got.map((r) => r.value).sort(), [...sent].sort(), 'each message once, none lost');
  const byPartition = new Map<number, Set<string>>();
  for (const r of got)
    byPartition.set(r.partition, (byPartition.get(r.partition) ?? new Set()).add(r.consumer));
  for (const [p, who] of byPartition) t.equal(who.size, 1, `partition ${p} read by one consumer only`);
  t.equal(new Set(got.map((r) => r.consumer)).size, 3, 'three consumers did the work');
});

t.test('3 partitions, 1 consumer: it gets all three', async (t) => {
  const { kafka, admin, consumers } = await setup(t, 'solo', 3);
  const got: Received[] = [];
  consumers.push(await startConsumer(kafka, { groupId: 'g1', topic: 'solo', name: 'only', into: got }));
  const group = await stableWith(admin, 'g1', 'solo', 1);
  t.same(group.members[0]!.partitions, [0, 1, 2]);
  const sent = values('solo', 30);
  await produce(kafka, 'solo', sent);
  await waitFor('all 30 consumed', () => (got.length >= 30 ? true : undefined));
  t.same(new Set(got.map((r) => r.partition)), new Set([0, 1, 2]), 'messages came from every partition');
  t.same(got.map((r) => r.value).sort(), [...sent].sort());
  const committed = await waitFor('offsets committed to the end', async () => {
    const c = await committedOffsets(admin, 'g1', 'solo');
    const total = [...c.values()].reduce((a, b) => a + Math.max(b, 0), 0);
    return total === 30 ? c : undefined;
  });
  t.equal(committed.size, 3);
});

t.test('pub-sub: two groups on one topic each receive every message', async (t) => {
  const { kafka, admin, consumers } = await setup(t, 'news', 3);
  const a: Received[] = [];
  const b: Received[] = [];
  consumers.push(await startConsumer(kafka, { groupId: 'ga', topic: 'news', name: 'a', into: a }));
  consumers.push(await startConsumer(kafka, { groupId: 'gb', topic: 'news', name: 'b', into: b }));
  await stableWith(admin, 'ga', 'news', 1);
  await stableWith(admin, 'gb', 'news', 1);
  const sent = values('news', 40);
  await produce(kafka, 'news', sent);
  await waitFor('both groups have everything', () => (a.length >= 40 && b.length >= 40 ? true : undefined));
  t.same(a.map((r) => r.value).sort(), [...sent].sort(), 'group a got every message');
  t.same(b.map((r) => r.value).sort(), [...sent].sort(), 'group b got every message');
});

t.test('queue: two consumers in one group, each message to exactly one', async (t) => {
  const { kafka, admin, consumers } = await setup(t, 'jobs', 4);
  const got: Received[] = [];
  consumers.push(await startConsumer(kafka, { groupId: 'workers', topic: 'jobs', name: 'w1', into: got }));
  consumers.push(await startConsumer(kafka, { groupId: 'workers', topic: 'jobs', name: 'w2', into: got }));
  const group = await stableWith(admin, 'workers', 'jobs', 2);
  t.same(group.members.flatMap((m) => m.partitions).sort(), [0, 1, 2, 3]);
  t.ok(
    group.members.every((m) => m.partitions.length === 2),
    'the leader spread the partitions evenly',
  );
  const sent = values('job', 80);
  await produce(kafka, 'jobs', sent);
  await waitFor('all 80 consumed', () => (got.length >= 80 ? true : undefined));
  // Let any stray duplicate arrive before judging.
  await new Promise((r) => setTimeout(r, 500));
  t.equal(got.length, 80, 'no message delivered twice');
  t.same(got.map((r) => r.value).sort(), [...sent].sort());
  t.same(new Set(got.map((r) => r.consumer)), new Set(['w1', 'w2']), 'both workers took a share');
});

t.test(
  'a consumer leaving cleanly hands its partitions over at once, resuming from its commits',
  async (t) => {
    const { kafka, admin, consumers } = await setup(t, 'handover', 2);
    const got: Received[] = [];
    const c1 = await startConsumer(kafka, { groupId: 'h', topic: 'handover', name: 'c1', into: got });
    const c2 = await startConsumer(kafka, { groupId: 'h', topic: 'handover', name: 'c2', into: got });
    consumers.push(c1);
    await stableWith(admin, 'h', 'handover', 2);
    await produce(kafka, 'handover', values('before', 20));
    await waitFor('first 20 consumed', () => (got.length >= 20 ? true : undefined));
    await waitFor('first 20 committed', async () => {
      const c = await committedOffsets(admin, 'h', 'handover');
      return [...c.values()].reduce((a, b) => a + Math.max(b, 0), 0) === 20 ? true : undefined;
    });
    await c2.disconnect(); // LeaveGroup: no waiting for a session timeout
    const group = await stableWith(admin, 'h', 'handover', 1);
    t.same(group.members[0]!.partitions, [0, 1]);
    await produce(kafka, 'handover', values('after', 20));
    await waitFor('next 20 consumed', () => (got.length >= 40 ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    t.equal(got.length, 40, 'committed messages were not redelivered');
    t.ok(
      got.filter((r) => r.value.startsWith('after')).every((r) => r.consumer === 'c1'),
      'the remaining consumer took everything after the leave',
    );
  },
);

t.test('admin: list, describe and delete groups (only once empty)', async (t) => {
  const { kafka, admin, consumers } = await setup(t, 'ops', 1);
  const got: Received[] = [];
  const c = await startConsumer(kafka, { groupId: 'ops-g', topic: 'ops', name: 'c', into: got });
  consumers.push(c);
  await stableWith(admin, 'ops-g', 'ops', 1);
  await produce(kafka, 'ops', ['x']);
  await waitFor('committed', async () =>
    (await committedOffsets(admin, 'ops-g', 'ops')).get(0) === 1 ? true : undefined,
  );
  t.same(
    (await admin.listGroups()).groups.map((g) => [g.groupId, g.protocolType]),
    [['ops-g', 'consumer']],
  );
  await t.rejects(admin.deleteGroups(['ops-g']), 'a group with a live member is not deleted');
  await c.disconnect();
  const res = await admin.deleteGroups(['ops-g']);
  t.same(
    res.map((r) => [r.groupId, r.errorCode]),
    [['ops-g', 0]],
  );
  t.equal((await committedOffsets(admin, 'ops-g', 'ops')).get(0), -1, 'its offsets are gone');
  t.same((await admin.listGroups()).groups, []);
});

t.test('a topic deleted and created again does not inherit the old committed offsets', async (t) => {
  const { kafka, admin } = await setup(t, 'reborn', 1);
  await produce(kafka, 'reborn', ['a', 'b', 'c']);
  await admin.setOffsets({ groupId: 'rg', topic: 'reborn', partitions: [{ partition: 0, offset: '3' }] });
  t.equal((await committedOffsets(admin, 'rg', 'reborn')).get(0), 3);
  await admin.deleteTopics({ topics: ['reborn'] });
  await admin.createTopics({ topics: [{ topic: 'reborn', numPartitions: 1 }], waitForLeaders: true });
  t.equal(
    (await committedOffsets(admin, 'rg', 'reborn')).get(0),
    -1,
    'the new topic has no committed offset',
  );
});
