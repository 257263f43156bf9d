// librdkafka (kcat) as a balanced group consumer against the broker: joins with the
// MEMBER_ID_REQUIRED dance, leads its own assignment, fetches and commits offsets; a second run
// in the same group resumes where the first committed.
import { spawn } from 'node:child_process';
import t from 'tap';
import {
  committedOffsets,
  groupBrokerWithAdmin,
  produce,
  stableWith,
  waitFor,
} from './helpers/broker-groups.js';
import { runCommand } from './helpers/run.js';

/** Runs `kcat -G` until it has reached the end of every assigned partition (-e); bounded. */
async function kcatGroup(
  address: string,
  group: string,
  topic: string,
  extra: string[] = [],
): Promise<{ code: number | null; lines: string[] }> {
  const args = ['-b', address, '-G', group, '-X', 'auto.offset.reset=earliest', ...extra];
  const r = await runCommand('kcat', [...args, '-e', '-q', '-f', '%p %o %s\\n', topic], {
    timeoutMs: 30_000,
  });
  return { code: r.code, lines: r.stdout.split('\n').filter((l) => l !== '') };
}

t.test('kcat -G consumes every message, commits, and a second run resumes from the commits', async (t) => {
  const { broker, kafka, admin } = await groupBrokerWithAdmin(t);
  await admin.createTopics({ topics: [{ topic: 'kc', numPartitions: 3 }], waitForLeaders: true });
  const first = Array.from({ length: 30 }, (_, i) => `first-${i}`);
  await produce(kafka, 'kc', first);

  const run1 = await kcatGroup(broker.address, 'kg', 'kc');
  t.equal(run1.code, 0, 'kcat exited cleanly');
  t.same(run1.lines.map((l) => l.split(' ')[2]).sort(), [...first].sort(), 'every message, once');
  t.same(
    new Set(run1.lines.map((l) => l.split(' ')[0])),
    new Set(['0', '1', '2']),
    'from all three partitions',
  );

  const ends = new Map((await admin.fetchTopicOffsets('kc')).map((p) => [p.partition, Number(p.high)]));
  t.same(
    await committedOffsets(admin, 'kg', 'kc'),
    ends,
    'librdkafka committed up to the end of each partition',
  );

  const second = Array.from({ length: 10 }, (_, i) => `second-${i}`);
  await produce(kafka, 'kc', second);
  const run2 = await kcatGroup(broker.address, 'kg', 'kc');
  t.equal(run2.code, 0);
  t.same(run2.lines.map((l) => l.split(' ')[2]).sort(), [...second].sort(), 'only what was not committed');
  const { groups } = await admin.describeGroups(['kg']);
  t.equal(groups[0]!.state, 'Empty', 'kcat left the group on exit');
});

t.test('kcat with group.instance.id: a restarted static member takes over and resumes', async (t) => {
  const { broker, kafka, admin } = await groupBrokerWithAdmin(t);
  await admin.createTopics({ topics: [{ topic: 'st', numPartitions: 3 }], waitForLeaders: true });
  await produce(kafka, 'st', ['s0', 's1', 's2', 's3', 's4', 's5']);
  const staticId = ['-X', 'group.instance.id=depot-7'];
  const run1 = await kcatGroup(broker.address, 'sg', 'st', staticId);
  t.equal(run1.code, 0);
  t.equal(run1.lines.length, 6);
  const { groups } = await admin.describeGroups(['sg']);
  t.equal(groups[0]!.state, 'Stable', 'a static member does not leave on exit; its session holds the place');
  await produce(kafka, 'st', ['s6', 's7']);
  const run2 = await kcatGroup(broker.address, 'sg', 'st', staticId);
  t.equal(run2.code, 0, 'the new incarnation replaced the old one without waiting for its session');
  t.same(run2.lines.map((l) => l.split(' ')[2]).sort(), ['s6', 's7']);
});

t.test(
  'two kcat consumers in one group split the partitions; SIGTERM leaves cleanly and commits',
  async (t) => {
    const { broker, kafka, admin } = await groupBrokerWithAdmin(t);
    const procs: ReturnType<typeof spawn>[] = [];
    t.teardown(() => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    });
    await admin.createTopics({ topics: [{ topic: 'pair', numPartitions: 4 }], waitForLeaders: true });
    const lines: { who: string; partition: number; value: string }[] = [];
    const exits: Promise<number | null>[] = [];
    for (const who of ['a', 'b']) {
      const p = spawn(
        'kcat',
        [
          '-b',
          broker.address,
          '-G',
          'pg',
          '-X',
          'auto.offset.reset=earliest',
          '-q',
          '-u', // unbuffered: lines arrive as consumed, not at exit
          '-f',
          '%p %s\\n',
          'pair',
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      procs.push(p);
      exits.push(new Promise((resolve) => p.on('exit', (code) => resolve(code))));
      let buf = '';
      p.stdout!.on('data', (d) => {
        buf += d;
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const l of parts)
          lines.push({ who, partition: Number(l.split(' ')[0]), value: l.split(' ')[1]! });
      });
    }
    const group = await stableWith(admin, 'pg', 'pair', 2);
    t.equal(group.members.length, 2);
    const sent = Array.from({ length: 60 }, (_, i) => `p-${i}`);
    await produce(kafka, 'pair', sent);
    await waitFor('60 messages between the two', () => (lines.length >= 60 ? true : undefined));
    t.same(lines.map((l) => l.value).sort(), [...sent].sort(), 'each message once');
    for (const p of [0, 1, 2, 3]) {
      t.equal(
        new Set(lines.filter((l) => l.partition === p).map((l) => l.who)).size,
        1,
        `partition ${p}: one reader`,
      );
    }
    t.same(new Set(lines.map((l) => l.who)), new Set(['a', 'b']), 'both took a share');
    for (const p of procs) p.kill('SIGTERM');
    t.same(await Promise.all(exits), [0, 0], 'both closed cleanly');
    const ends = new Map((await admin.fetchTopicOffsets('pair')).map((p) => [p.partition, Number(p.high)]));
    t.same(await committedOffsets(admin, 'pg', 'pair'), ends, 'and committed everything on the way out');
    t.equal((await admin.describeGroups(['pg'])).groups[0]!.state, 'Empty');
  },
);
