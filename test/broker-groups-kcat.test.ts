// librdkafka (kcat) as a balanced group consumer against the broker: joins with the
// MEMBER_ID_REQUIRED dance, leads its own assignment, fetches and commits offsets; a second run
// in the same group resumes where the first committed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { client, committedOffsets, produce, startGroupBroker } from './helpers/broker-groups.js';

/** Runs `kcat -G` until it has reached the end of every assigned partition (-e); bounded. */
function kcatGroup(
  address: string,
  group: string,
  topic: string,
  extra: string[] = [],
): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      'kcat',
      [
        '-b',
        address,
        '-G',
        group,
        '-X',
        'auto.offset.reset=earliest',
        ...extra,
        '-e',
        '-q',
        '-f',
        '%p %o %s\\n',
        topic,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`kcat did not finish in 30 s; stderr: ${err}`));
    }, 30_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, lines: out.split('\n').filter((l) => l !== '') });
    });
  });
}

t.test('kcat -G consumes every message, commits, and a second run resumes from the commits', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'broker-groups-'));
  const broker = await startGroupBroker(dataDir);
  const kafka = client(broker.address);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(async () => {
    await admin.disconnect();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
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
  const dataDir = mkdtempSync(join(tmpdir(), 'broker-groups-'));
  const broker = await startGroupBroker(dataDir);
  const kafka = client(broker.address);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(async () => {
    await admin.disconnect();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
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
