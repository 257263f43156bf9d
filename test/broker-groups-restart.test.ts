// Committed offsets and group metadata survive the broker: a clean restart, and kill -9 while
// commits are in flight (every acknowledged commit must be there afterwards).
import t from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { ErrorCode as E } from '../broker/protocol/errors.js';
import {
  client,
  committedOffsets,
  produce,
  type Received,
  stableWith,
  startConsumer,
  startGroupBroker,
  waitFor,
} from './helpers/broker-groups.js';
import { WireClient } from './helpers/broker-groups-wire.js';
import { childBroker, tempDir } from './helpers/broker-harness.js';

t.test('clean restart: offsets survive; the group resumes after what it committed', async (t) => {
  const dataDir = tempDir(t, 'broker-groups-');
  let broker = await startGroupBroker(dataDir);
  let kafka = client(broker.address);
  let admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'r', numPartitions: 3 }], waitForLeaders: true });
  await produce(
    kafka,
    'r',
    Array.from({ length: 30 }, (_, i) => `one-${i}`),
  );
  const got: Received[] = [];
  let consumer = await startConsumer(kafka, { groupId: 'rg', topic: 'r', name: 'before', into: got });
  await waitFor('30 consumed', () => (got.length >= 30 ? true : undefined));
  const before = await waitFor('30 committed', async () => {
    const c = await committedOffsets(admin, 'rg', 'r');
    return [...c.values()].reduce((a, b) => a + Math.max(b, 0), 0) === 30 ? c : undefined;
  });
  await consumer.disconnect();
  await admin.disconnect();
  await broker.stop();

  broker = await startGroupBroker(dataDir);
  kafka = client(broker.address);
  admin = kafka.admin();
  await admin.connect();
  t.teardown(async () => {
    await admin.disconnect().catch(() => {});
    await broker.stop();
  });
  t.same(await committedOffsets(admin, 'rg', 'r'), before, 'committed offsets came back');
  await produce(
    kafka,
    'r',
    Array.from({ length: 12 }, (_, i) => `two-${i}`),
  );
  consumer = await startConsumer(kafka, { groupId: 'rg', topic: 'r', name: 'after', into: got });
  t.teardown(() => consumer.disconnect());
  await stableWith(admin, 'rg', 'r', 1);
  await waitFor('12 new consumed', () => (got.length >= 42 ? true : undefined));
  await new Promise((r) => setTimeout(r, 500));
  const afterRestart = got.filter((r) => r.consumer === 'after').map((r) => r.value);
  t.equal(afterRestart.length, 12, 'nothing already committed was redelivered');
  t.ok(
    afterRestart.every((v) => v.startsWith('two-')),
    'only the new messages',
  );
});

t.test(
  'a live consumer rides through a broker restart: its group comes back Stable, nothing redelivered',
  async (t) => {
    const dataDir = tempDir(t, 'broker-groups-');
    let broker = await startGroupBroker(dataDir);
    const port = broker.port;
    const kafka = client(broker.address);
    const admin = kafka.admin();
    await admin.createTopics({ topics: [{ topic: 'live', numPartitions: 2 }], waitForLeaders: true });
    const got: Received[] = [];
    const consumer = await startConsumer(kafka, { groupId: 'lg', topic: 'live', name: 'c', into: got });
    let joins = 0;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joins++;
    });
    const group = await stableWith(admin, 'lg', 'live', 1);
    await produce(
      kafka,
      'live',
      Array.from({ length: 20 }, (_, i) => `pre-${i}`),
    );
    await waitFor('20 consumed and committed', async () => {
      const c = await committedOffsets(admin, 'lg', 'live');
      return got.length >= 20 && [...c.values()].reduce((a, b) => a + Math.max(b, 0), 0) === 20
        ? true
        : undefined;
    });
    const joinsBefore = joins;
    await broker.stop();
    broker = await startGroupBroker(dataDir, port);
    t.teardown(async () => {
      await consumer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
      await broker.stop();
    });
    const { groups } = await admin.describeGroups(['lg']);
    t.equal(groups[0]!.state, 'Stable', 'the group was restored Stable from disk');
    t.same(
      groups[0]!.members.map((m) => m.memberId),
      group.members.map((m) => m.memberId),
      'with its member',
    );
    await produce(
      kafka,
      'live',
      Array.from({ length: 20 }, (_, i) => `post-${i}`),
    );
    await waitFor('the 20 new messages consumed', () =>
      got.filter((r) => r.value.startsWith('post-')).length >= 20 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 500));
    t.equal(got.length, 40, 'nothing committed before the restart was delivered again');
    t.comment(`consumer rejoined ${joins - joinsBefore} time(s) across the restart`);
  },
);

async function commit(wire: WireClient, group: string, partition: number, offset: number): Promise<number> {
  const r = await wire.request(ApiKey.OffsetCommit, 5, (w) => {
    w.string(group).int32(-1).string('');
    w.array(['k'], (w, name) => {
      w.string(name).array([partition], (w, p) => {
        w.int32(p).int64(offset).nullableString(null);
      });
    });
  });
  r.int32();
  const topics = r.array((r) => ({
    name: r.string(),
    parts: r.array((r) => ({ p: r.int32(), error: r.int16() })),
  }));
  return topics[0]!.parts[0]!.error;
}

async function fetchOffset(wire: WireClient, group: string, partition: number): Promise<number> {
  const r = await wire.request(ApiKey.OffsetFetch, 3, (w) => {
    w.string(group).nullableArray([partition], (w, p) => {
      w.string('k').array([p], (w, p) => {
        w.int32(p);
      });
    });
  });
  r.int32();
  const topics = r.array((r) => ({
    name: r.string(),
    parts: r.array((r) => ({
      p: r.int32(),
      offset: Number(r.int64()),
      meta: r.nullableString(),
      error: r.int16(),
    })),
  }));
  return topics[0]!.parts[0]!.offset;
}

t.test('kill -9 with commits in flight: every acknowledged commit survives', async (t) => {
  const dataDir = tempDir(t, 'broker-groups-');
  const ROUNDS = 4;
  const acked = [-1, -1];
  const refused: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const child = await childBroker(t, dataDir);
    if (round === 0) {
      const admin = client(`127.0.0.1:${child.port}`).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'k', numPartitions: 2 }], waitForLeaders: true });
      await admin.disconnect();
    }
    const wire = await WireClient.connect(child.port);
    for (const p of [0, 1]) {
      const found = await fetchOffset(wire, 'crash', p);
      t.ok(
        found >= acked[p]! && found <= acked[p]! + 1,
        `round ${round}: partition ${p} at ${found}, acked ${acked[p]}`,
      );
      acked[p] = found;
    }
    // Two writers (one per partition) committing as fast as acks come back, then kill -9 mid-stream.
    let stop = false;
    const writers = [0, 1].map(async (p) => {
      let next = acked[p]! + 1;
      while (!stop) {
        const code = await commit(wire, 'crash', p, next).catch(() => null);
        if (code === null) return;
        if (code !== E.NONE) refused.push(code);
        else acked[p] = next++;
      }
    });
    const start = [...acked];
    await waitFor('20 more commits acknowledged on each partition', () =>
      acked.every((a, i) => a >= start[i]! + 20) ? true : undefined,
    );
    await child.kill9();
    stop = true;
    await Promise.all(writers);
    wire.close();
  }
  const child = await childBroker(t, dataDir);
  const wire = await WireClient.connect(child.port);
  for (const p of [0, 1]) {
    const found = await fetchOffset(wire, 'crash', p);
    t.ok(
      found >= acked[p]! && found <= acked[p]! + 1,
      `final: partition ${p} at ${found}, acked ${acked[p]}`,
    );
  }
  t.same(refused, [], 'no commit was refused');
  wire.close();
  await child.kill9();
});

t.test(
  'a group whose consumers all left is still a consumer group to admin tools, after a restart too',
  async (t) => {
    const dataDir = tempDir(t, 'broker-groups-');
    let broker = await startGroupBroker(dataDir);
    let admin = client(broker.address).admin();
    t.teardown(async () => {
      await admin.disconnect().catch(() => {});
      await broker.stop();
    });
    const kafka = client(broker.address);
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'gone', numPartitions: 1 }], waitForLeaders: true });
    await produce(kafka, 'gone', ['a', 'b']);
    const got: Received[] = [];
    const consumer = await startConsumer(kafka, { groupId: 'left', topic: 'gone', name: 'c', into: got });
    await waitFor('both committed', async () =>
      (await committedOffsets(admin, 'left', 'gone')).get(0) === 2 ? true : undefined,
    );
    await consumer.disconnect(); // LeaveGroup: the group goes Empty at once
    const listed = async () => (await admin.listGroups()).groups.map((g) => [g.groupId, g.protocolType]);
    const described = async () => {
      const g = (await admin.describeGroups(['left'])).groups[0]!;
      return [g.state, g.protocolType, g.members.length];
    };
    await waitFor('the group Empty', async () => ((await described())[0] === 'Empty' ? true : undefined));
    t.same(await listed(), [['left', 'consumer']], 'listGroups: a consumer group');
    t.same(await described(), ['Empty', 'consumer', 0], 'describeGroups: Empty, protocol type kept');

    await admin.disconnect();
    await broker.stop();
    broker = await startGroupBroker(dataDir);
    admin = client(broker.address).admin();
    await admin.connect();
    t.same(await listed(), [['left', 'consumer']], 'listGroups after a restart');
    t.same(await described(), ['Empty', 'consumer', 0], 'describeGroups after a restart');
    t.same(await committedOffsets(admin, 'left', 'gone'), new Map([[0, 2]]), 'with its offsets');
  },
);
