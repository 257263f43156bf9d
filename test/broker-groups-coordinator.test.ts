// The group state machine with time under the test's control (ManualScheduler) and a real store in
// a temp dir: joins, the MEMBER_ID_REQUIRED dance, delayed join, rebalance and session timeouts,
// generations, error codes for bad input, offset commit rules and restart recovery.
import t, { type Test } from 'tap';
import { GroupCoordinator } from '../broker/groups/coordinator.js';
import { ManualScheduler } from '../broker/groups/scheduler.js';
import { GroupStore } from '../broker/groups/store.js';
import type { JoinRequest, JoinResult } from '../broker/groups/types.js';
import { ErrorCode as E } from '../broker/protocol/errors.js';
import { createLogger } from '../shared/log.js';
import { tempDir } from './helpers/broker-harness.js';

const log = createLogger('test', 'silent');
const SESSION = 10_000;
const REBALANCE = 30_000;
const DELAY = 3000;

async function setup(
  t: Test,
  opts: {
    partitionExists?: (topic: string, p: number) => boolean;
    topicIdOf?: (topic: string) => string | undefined;
  } = {},
) {
  const dir = tempDir(t, 'groups-');
  const clock = new ManualScheduler();
  const open = async () =>
    new GroupCoordinator({
      store: await GroupStore.open(dir),
      log,
      scheduler: clock,
      settings: { initialRebalanceDelayMs: DELAY },
      partitionExists: opts.partitionExists,
      topicIdOf: opts.topicIdOf,
    });
  const c = await open();
  const state = { c };
  t.teardown(async () => {
    await state.c.close().catch(() => {});
  });
  return { dir, clock, state, open };
}

function req(over: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: REBALANCE,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
    requireKnownMemberId: false,
    ...over,
  };
}

/** A promise's settled value, or 'pending' if it has not settled after the current microtasks. */
async function peek<T>(p: Promise<T>): Promise<T | 'pending'> {
  const marker = Symbol();
  const r = await Promise.race([p, new Promise<typeof marker>((res) => setImmediate(() => res(marker)))]);
  return r === marker ? 'pending' : (r as T);
}

/** Joins n members to an empty group and completes the first generation (sync included). */
async function formGroup(c: GroupCoordinator, clock: ManualScheduler, n: number) {
  const joins: Promise<JoinResult>[] = [];
  for (let i = 0; i < n; i++) joins.push(c.join(req({ clientId: `c${i}` })));
  // Joins after the first extend the initial delay by one more window.
  clock.advance(n > 1 ? 2 * DELAY : DELAY);
  const results = await Promise.all(joins);
  const leader = results.find((r) => r.memberId === r.leaderId)!;
  const syncs = results.map((r) =>
    c.sync({
      groupId: 'g',
      generationId: r.generationId,
      memberId: r.memberId,
      groupInstanceId: null,
      assignments:
        r === leader
          ? results.map((m) => ({ memberId: m.memberId, assignment: Buffer.from(`for ${m.memberId}`) }))
          : [],
    }),
  );
  const assigned = await Promise.all(syncs);
  return { results, leader, assigned };
}

t.test(
  'v4+ join: MEMBER_ID_REQUIRED hands out an id, joining with it completes after the initial delay',
  async (t) => {
    const { state, clock } = await setup(t);
    const c = state.c;
    const first = await c.join(req({ requireKnownMemberId: true }));
    t.equal(first.errorCode, E.MEMBER_ID_REQUIRED);
    t.match(first.memberId, /^client-[0-9a-f-]{36}$/);
    const p = c.join(req({ memberId: first.memberId, requireKnownMemberId: true }));
    t.equal(await peek(p), 'pending', 'waits for the initial rebalance delay');
    clock.advance(DELAY - 1);
    t.equal(await peek(p), 'pending');
    clock.advance(1);
    const r = await p;
    t.equal(r.errorCode, E.NONE);
    t.equal(r.generationId, 1);
    t.equal(r.leaderId, first.memberId);
    t.equal(r.protocolName, 'range');
    t.same(
      r.members.map((m) => [m.memberId, m.metadata.toString()]),
      [[first.memberId, 'sub']],
    );
    t.equal(c.inspect('g').state, 'CompletingRebalance');
  },
);

t.test('a pending member id that never joins expires and no longer holds up the rebalance', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const { leader } = await formGroup(c, clock, 1);
  const ghost = await c.join(req({ requireKnownMemberId: true }));
  t.equal(ghost.errorCode, E.MEMBER_ID_REQUIRED);
  const rejoin = c.join(req({ memberId: leader.memberId }));
  t.equal(await peek(rejoin), 'pending', 'the handed-out id may still join');
  clock.advance(SESSION);
  const r = await rejoin;
  t.equal(r.errorCode, E.NONE);
  t.equal(r.generationId, 2);
  t.same(
    r.members.map((m) => m.memberId),
    [leader.memberId],
  );
  const late = await c.join(req({ memberId: ghost.memberId }));
  t.equal(late.errorCode, E.UNKNOWN_MEMBER_ID, 'an expired pending id is unknown');
});

t.test('members arriving during the initial delay extend it and land in one generation', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const a = c.join(req({ clientId: 'a' }));
  clock.advance(DELAY - 10);
  const b = c.join(req({ clientId: 'b' }));
  clock.advance(10);
  t.equal(await peek(a), 'pending', 'a member joined during the window: it is extended');
  clock.advance(DELAY);
  const [ra, rb] = await Promise.all([a, b]);
  t.equal(ra.generationId, 1);
  t.equal(rb.generationId, 1);
  t.equal(ra.leaderId, ra.memberId, 'the first member leads');
  t.equal(ra.members.length, 2, 'the leader sees every subscription');
  t.equal(rb.members.length, 0, 'followers see none');
});

t.test('sync relays the leader assignment; followers wait for it; then Stable', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const a = c.join(req({ clientId: 'a' }));
  const b = c.join(req({ clientId: 'b' }));
  clock.advance(2 * DELAY);
  const [ra, rb] = await Promise.all([a, b]);
  const follower = c.sync({
    groupId: 'g',
    generationId: 1,
    memberId: rb.memberId,
    groupInstanceId: null,
    assignments: [{ memberId: rb.memberId, assignment: Buffer.from('ignored: not the leader') }],
  });
  t.equal(await peek(follower), 'pending');
  const leader = await c.sync({
    groupId: 'g',
    generationId: 1,
    memberId: ra.memberId,
    groupInstanceId: null,
    assignments: [
      { memberId: ra.memberId, assignment: Buffer.from('p0') },
      { memberId: rb.memberId, assignment: Buffer.from('p1') },
      { memberId: 'nobody', assignment: Buffer.from('dropped') },
    ],
  });
  t.equal(leader.errorCode, E.NONE);
  t.equal(leader.assignment.toString(), 'p0');
  const f = await follower;
  t.equal(f.errorCode, E.NONE);
  t.equal(f.assignment.toString(), 'p1');
  t.equal(c.inspect('g').state, 'Stable');
  const again = await c.sync({
    groupId: 'g',
    generationId: 1,
    memberId: rb.memberId,
    groupInstanceId: null,
    assignments: [],
  });
  t.equal(again.assignment.toString(), 'p1', 'a sync in Stable returns the current assignment');
});

t.test('heartbeat errors: wrong generation, garbage member, unknown group, empty group id', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const { leader } = await formGroup(c, clock, 1);
  const hb = (over: Partial<{ groupId: string; generationId: number; memberId: string }>) =>
    c.heartbeat({ groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: null, ...over });
  t.equal(hb({}), E.NONE);
  t.equal(hb({ generationId: 0 }), E.ILLEGAL_GENERATION);
  t.equal(hb({ generationId: 7 }), E.ILLEGAL_GENERATION);
  t.equal(hb({ memberId: '\u0000garbage\uffff' }), E.UNKNOWN_MEMBER_ID);
  t.equal(hb({ memberId: '' }), E.UNKNOWN_MEMBER_ID);
  t.equal(hb({ groupId: 'no-such-group' }), E.UNKNOWN_MEMBER_ID);
  t.equal(hb({ groupId: '' }), E.INVALID_GROUP_ID);
  const s = await c.sync({
    groupId: 'g',
    generationId: 9,
    memberId: leader.memberId,
    groupInstanceId: null,
    assignments: [],
  });
  t.equal(s.errorCode, E.ILLEGAL_GENERATION);
  const u = await c.sync({
    groupId: 'g',
    generationId: 1,
    memberId: 'who',
    groupInstanceId: null,
    assignments: [],
  });
  t.equal(u.errorCode, E.UNKNOWN_MEMBER_ID);
  const j = await c.join(req({ memberId: 'made-up' }));
  t.equal(j.errorCode, E.UNKNOWN_MEMBER_ID);
  const j2 = await c.join(req({ groupId: 'fresh', memberId: 'made-up' }));
  t.equal(j2.errorCode, E.UNKNOWN_MEMBER_ID);
});

t.test('join input errors: group id, session timeout bounds, inconsistent protocols', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  t.equal((await c.join(req({ groupId: '' }))).errorCode, E.INVALID_GROUP_ID);
  t.equal((await c.join(req({ sessionTimeoutMs: 10 }))).errorCode, E.INVALID_SESSION_TIMEOUT);
  t.equal((await c.join(req({ sessionTimeoutMs: 1_800_001 }))).errorCode, E.INVALID_SESSION_TIMEOUT);
  t.equal((await c.join(req({ protocols: [] }))).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  t.equal((await c.join(req({ protocolType: '' }))).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  await formGroup(c, clock, 1);
  t.equal((await c.join(req({ protocolType: 'connect' }))).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  const other = [{ name: 'roundrobin', metadata: Buffer.alloc(0) }];
  t.equal((await c.join(req({ protocols: other }))).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  t.equal(c.inspect('g').state, 'Stable', 'rejected joins leave the group alone');
});

t.test('protocol vote: the protocol most members prefer among those all support', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const p = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }));
  const joins = [
    c.join(req({ protocols: p('range', 'roundrobin') })),
    c.join(req({ protocols: p('roundrobin', 'range', 'sticky') })),
    c.join(req({ protocols: p('sticky', 'roundrobin', 'range') })),
  ];
  clock.advance(2 * DELAY);
  const rs = await Promise.all(joins);
  // Votes among {range, roundrobin}: range, roundrobin, roundrobin.
  t.equal(rs[0]!.protocolName, 'roundrobin');
  t.same(
    rs[0]!.members.map((m) => m.metadata.toString()),
    ['roundrobin', 'roundrobin', 'roundrobin'],
    'the leader gets each member metadata for the chosen protocol',
  );
});

t.test(
  'a new member triggers a rebalance: heartbeats say REBALANCE_IN_PROGRESS, join completes once all rejoin',
  async (t) => {
    const { state, clock } = await setup(t);
    const c = state.c;
    const { leader } = await formGroup(c, clock, 1);
    const newcomer = c.join(req({ clientId: 'new' }));
    t.equal(c.inspect('g').state, 'PreparingRebalance');
    t.equal(
      c.heartbeat({ groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: null }),
      E.REBALANCE_IN_PROGRESS,
    );
    const commit = await c.commit({
      groupId: 'g',
      generationId: 1,
      memberId: leader.memberId,
      groupInstanceId: null,
      topics: [{ name: 't', partitions: [{ partition: 0, offset: 5, leaderEpoch: -1, metadata: null }] }],
    });
    t.equal(
      commit[0]!.partitions[0]!.errorCode,
      E.NONE,
      'the old generation may still commit before rejoining',
    );
    t.equal(await peek(newcomer), 'pending');
    const rejoin = c.join(req({ memberId: leader.memberId }));
    const [rn, rl] = await Promise.all([newcomer, rejoin]);
    t.equal(rn.generationId, 2, 'completed as soon as every known member rejoined, no timeout needed');
    t.equal(rl.generationId, 2);
    t.equal(rl.leaderId, leader.memberId, 'the leader stays the leader');
    t.equal(rl.members.length, 2);
    const stale = await c.commit({
      groupId: 'g',
      generationId: 2,
      memberId: leader.memberId,
      groupInstanceId: null,
      topics: [{ name: 't', partitions: [{ partition: 0, offset: 6, leaderEpoch: -1, metadata: null }] }],
    });
    t.equal(
      stale[0]!.partitions[0]!.errorCode,
      E.REBALANCE_IN_PROGRESS,
      'no commits while the assignment is pending',
    );
    t.equal(
      c.heartbeat({ groupId: 'g', generationId: 2, memberId: rn.memberId, groupInstanceId: null }),
      E.NONE,
    );
  },
);

t.test(
  'a member that does not rejoin within the rebalance timeout is dropped from the generation',
  async (t) => {
    const { state, clock } = await setup(t);
    const c = state.c;
    const { results } = await formGroup(c, clock, 2);
    const [a, b] = results as [JoinResult, JoinResult];
    const rejoinA = c.join(req({ memberId: a.memberId }));
    // b keeps heartbeating (so its session is fine) but never rejoins.
    for (let i = 0; i < 5; i++) {
      clock.advance(REBALANCE / 6);
      t.equal(
        c.heartbeat({ groupId: 'g', generationId: 1, memberId: b.memberId, groupInstanceId: null }),
        E.REBALANCE_IN_PROGRESS,
      );
    }
    t.equal(await peek(rejoinA), 'pending');
    clock.advance(REBALANCE / 6);
    const r = await rejoinA;
    t.equal(r.generationId, 2);
    t.same(
      r.members.map((m) => m.memberId),
      [a.memberId],
    );
    t.equal(
      c.heartbeat({ groupId: 'g', generationId: 1, memberId: b.memberId, groupInstanceId: null }),
      E.UNKNOWN_MEMBER_ID,
    );
  },
);

t.test('session timeout: a silent member is removed and the survivors rebalance without it', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const { results } = await formGroup(c, clock, 2);
  const [a, b] = results as [JoinResult, JoinResult];
  const beat = (m: JoinResult, gen = 1) =>
    c.heartbeat({ groupId: 'g', generationId: gen, memberId: m.memberId, groupInstanceId: null });
  clock.advance(SESSION - 1);
  t.equal(beat(a), E.NONE, 'a heartbeats; b stays silent');
  clock.advance(1);
  t.same(c.inspect('g').members, [a.memberId], 'b expired exactly at its session timeout');
  t.equal(c.inspect('g').state, 'PreparingRebalance');
  t.equal(beat(a), E.REBALANCE_IN_PROGRESS);
  t.equal(beat(b), E.UNKNOWN_MEMBER_ID);
  const r = await c.join(req({ memberId: a.memberId }));
  t.equal(r.errorCode, E.NONE);
  t.equal(r.generationId, 2);
  const s = await c.sync({
    groupId: 'g',
    generationId: 2,
    memberId: a.memberId,
    groupInstanceId: null,
    assignments: [{ memberId: a.memberId, assignment: Buffer.from('all') }],
  });
  t.equal(s.assignment.toString(), 'all');
  t.equal(beat(a, 2), E.NONE);
});

t.test('every member expiring leaves the group Empty with a higher generation', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  await formGroup(c, clock, 2);
  clock.advance(SESSION);
  const i = c.inspect('g');
  t.equal(i.state, 'Empty');
  t.equal(i.generationId, 2);
  t.same(i.members, []);
  // Kafka keeps the protocol type of an Empty group: tools list it as a consumer group still.
  t.same(
    c.describe(['g']).map((g) => [g.state, g.protocolType, g.protocolName]),
    [['Empty', 'consumer', '']],
    'described Empty, protocol type kept, no protocol',
  );
  t.same(c.list(), [{ groupId: 'g', protocolType: 'consumer', state: 'Empty' }]);
  // Any protocol type may take over an Empty group, as in Kafka.
  const other = c.join(
    req({ protocolType: 'connect', protocols: [{ name: 'v1', metadata: Buffer.alloc(0) }] }),
  );
  clock.advance(DELAY);
  t.equal((await other).errorCode, E.NONE, 'a connect worker may join the Empty group');
  t.equal(c.describe(['g'])[0]!.protocolType, 'connect');
});

t.test('leave: the group rebalances; unknown members get UNKNOWN_MEMBER_ID', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const { results } = await formGroup(c, clock, 2);
  const [a, b] = results as [JoinResult, JoinResult];
  const res = c.leave('g', [
    { memberId: b.memberId, groupInstanceId: null },
    { memberId: 'stranger', groupInstanceId: null },
  ]);
  t.equal(res.errorCode, E.NONE);
  t.same(
    res.members.map((m) => m.errorCode),
    [E.NONE, E.UNKNOWN_MEMBER_ID],
  );
  t.equal(c.inspect('g').state, 'PreparingRebalance');
  t.same(
    c.leave('nope', [{ memberId: 'x', groupInstanceId: null }]).members[0]!.errorCode,
    E.UNKNOWN_MEMBER_ID,
  );
  t.equal(c.leave('', []).errorCode, E.INVALID_GROUP_ID);
  const r = await c.join(req({ memberId: a.memberId }));
  t.equal(r.generationId, 2);
});

t.test('a sync waiting on a leader that dies is answered REBALANCE_IN_PROGRESS', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const a = c.join(req({ clientId: 'a' }));
  const b = c.join(req({ clientId: 'b' }));
  clock.advance(2 * DELAY);
  const [, rb] = await Promise.all([a, b]);
  const follower = c.sync({
    groupId: 'g',
    generationId: 1,
    memberId: rb.memberId,
    groupInstanceId: null,
    assignments: [],
  });
  clock.advance(SESSION);
  t.equal(
    (await follower).errorCode,
    E.REBALANCE_IN_PROGRESS,
    'leader expired; follower was kept alive while waiting',
  );
  t.same(c.inspect('g').members, [rb.memberId]);
});

t.test('offset commit rules and fetch', async (t) => {
  const exists = (topic: string, p: number) => topic === 't' && p >= 0 && p < 3;
  const { state, clock } = await setup(t, { partitionExists: exists });
  const c = state.c;
  const part = (partition: number, offset: number, metadata: string | null = null) => ({
    partition,
    offset,
    leaderEpoch: -1,
    metadata,
  });
  const simple = await c.commit({
    groupId: 'solo',
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [
      {
        name: 't',
        partitions: [part(0, 10, 'm'), part(1, 11), part(7, 1), part(2, -5), part(2, 1, 'x'.repeat(4097))],
      },
      { name: 'missing', partitions: [part(0, 1)] },
    ],
  });
  t.same(
    simple.map((x) => x.partitions.map((p) => p.errorCode)),
    [
      [E.NONE, E.NONE, E.UNKNOWN_TOPIC_OR_PARTITION, E.NONE, E.OFFSET_METADATA_TOO_LARGE],
      [E.UNKNOWN_TOPIC_OR_PARTITION],
    ],
    'good partitions are kept, each bad one is refused on its own',
  );
  const fetched = c.fetch('solo', [{ name: 't', partitions: [0, 1, 2] }]);
  t.same(
    fetched[0]!.partitions.map((p) => [p.partition, p.offset, p.metadata]),
    [
      [0, 10, 'm'],
      [1, 11, null],
      [2, -5, null],
    ],
    'a negative offset is kept and handed back, as Kafka does: it is how kafkajs asks to be reset',
  );
  t.same(
    c.fetch('solo', null).map((x) => [x.name, x.partitions.length]),
    [['t', 3]],
  );
  t.same(c.fetch('nobody', [{ name: 't', partitions: [0] }])[0]!.partitions[0]!.offset, -1);

  const { leader } = await formGroup(c, clock, 1);
  const commit = (generationId: number, memberId: string) =>
    c.commit({
      groupId: 'g',
      generationId,
      memberId,
      groupInstanceId: null,
      topics: [{ name: 't', partitions: [part(0, 3)] }],
    });
  t.equal((await commit(1, leader.memberId))[0]!.partitions[0]!.errorCode, E.NONE);
  t.equal((await commit(0, leader.memberId))[0]!.partitions[0]!.errorCode, E.ILLEGAL_GENERATION);
  t.equal((await commit(1, 'zombie'))[0]!.partitions[0]!.errorCode, E.UNKNOWN_MEMBER_ID);
  t.equal(
    (await commit(-1, ''))[0]!.partitions[0]!.errorCode,
    E.UNKNOWN_MEMBER_ID,
    'no simple commits into a live group',
  );
  const unknownGroup = await c.commit({
    groupId: 'ghost',
    generationId: 4,
    memberId: 'm',
    groupInstanceId: null,
    topics: [{ name: 't', partitions: [part(0, 1)] }],
  });
  t.equal(unknownGroup[0]!.partitions[0]!.errorCode, E.ILLEGAL_GENERATION);
  t.equal(c.fetch('g', [{ name: 't', partitions: [0] }])[0]!.partitions[0]!.offset, 3);
});

t.test('describe and list', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const { leader } = await formGroup(c, clock, 1);
  const [g, dead] = c.describe(['g', 'nope']);
  t.equal(g!.state, 'Stable');
  t.equal(g!.protocolType, 'consumer');
  t.equal(g!.protocolName, 'range');
  t.same(
    g!.members.map((m) => [m.memberId, m.clientId, m.metadata.toString(), m.assignment.toString()]),
    [[leader.memberId, 'c0', 'sub', `for ${leader.memberId}`]],
  );
  t.equal(dead!.state, 'Dead');
  t.equal(c.describe([''])[0]!.errorCode, E.INVALID_GROUP_ID);
  t.same(c.list(), [{ groupId: 'g', protocolType: 'consumer', state: 'Stable' }]);
});

t.test(
  'restart: offsets and the stable group come back; members carry on with their generation',
  async (t) => {
    const { state, clock, open } = await setup(t);
    const { results } = await formGroup(state.c, clock, 2);
    const [a, b] = results as [JoinResult, JoinResult];
    await state.c.commit({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      topics: [{ name: 't', partitions: [{ partition: 2, offset: 42, leaderEpoch: 3, metadata: 'meta' }] }],
    });
    await state.c.close();
    state.c = await open();
    const c = state.c;
    const i = c.inspect('g');
    t.equal(i.state, 'Stable');
    t.equal(i.generationId, 1);
    t.same(i.members.sort(), [a.memberId, b.memberId].sort());
    t.equal(
      c.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: null }),
      E.NONE,
    );
    const s = await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: b.memberId,
      groupInstanceId: null,
      assignments: [],
    });
    t.equal(s.assignment.toString(), `for ${b.memberId}`);
    t.same(c.fetch('g', [{ name: 't', partitions: [2] }])[0]!.partitions[0], {
      partition: 2,
      offset: 42,
      leaderEpoch: 3,
      metadata: 'meta',
      errorCode: E.NONE,
    });
    // Members that never come back expire like any other.
    clock.advance(SESSION);
    t.equal(c.inspect('g').state, 'Empty');
    t.equal(c.inspect('g').generationId, 2);
    await c.close();
    state.c = await open();
    t.equal(state.c.inspect('g').generationId, 2, 'the generation survives a restart of an empty group too');
    t.same(
      state.c.list(),
      [{ groupId: 'g', protocolType: 'consumer', state: 'Empty' }],
      'and so does its protocol type',
    );
  },
);

t.test('delete: only empty groups; offsets go with them, durably', async (t) => {
  const { state, clock, open } = await setup(t);
  const c = state.c;
  const { leader } = await formGroup(c, clock, 1);
  await c.commit({
    groupId: 'g',
    generationId: 1,
    memberId: leader.memberId,
    groupInstanceId: null,
    topics: [{ name: 't', partitions: [{ partition: 0, offset: 5, leaderEpoch: -1, metadata: null }] }],
  });
  await c.commit({
    groupId: 'offsets-only',
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [{ name: 't', partitions: [{ partition: 0, offset: 1, leaderEpoch: -1, metadata: null }] }],
  });
  t.same(await c.deleteGroups(['g', 'never', '']), [
    { groupId: 'g', errorCode: E.NON_EMPTY_GROUP },
    { groupId: 'never', errorCode: E.GROUP_ID_NOT_FOUND },
    { groupId: '', errorCode: E.INVALID_GROUP_ID },
  ]);
  c.leave('g', [{ memberId: leader.memberId, groupInstanceId: null }]);
  t.equal(c.inspect('g').state, 'Empty');
  t.same(await c.deleteGroups(['g', 'offsets-only']), [
    { groupId: 'g', errorCode: E.NONE },
    { groupId: 'offsets-only', errorCode: E.NONE },
  ]);
  t.equal(c.fetch('g', [{ name: 't', partitions: [0] }])[0]!.partitions[0]!.offset, -1);
  t.same(c.list(), []);
  await c.close();
  state.c = await open();
  t.same(state.c.list(), [], 'still deleted after a restart');
  t.equal(state.c.fetch('offsets-only', [{ name: 't', partitions: [0] }])[0]!.partitions[0]!.offset, -1);
});

t.test('a refused join does not leave an empty group behind', async (t) => {
  const { state } = await setup(t);
  const c = state.c;
  t.equal((await c.join(req({ groupId: 'x', protocols: [] }))).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  t.equal((await c.join(req({ groupId: 'y', sessionTimeoutMs: 1 }))).errorCode, E.INVALID_SESSION_TIMEOUT);
  t.same(c.list(), []);
  t.equal(c.describe(['x'])[0]!.state, 'Dead');
});

t.test('static membership: a restarted instance fences its previous member id', async (t) => {
  const { state, clock } = await setup(t);
  const c = state.c;
  const inst = 'rider-app-7';
  const j1 = c.join(req({ groupInstanceId: inst, requireKnownMemberId: true }));
  clock.advance(DELAY);
  const first = await j1;
  t.equal(first.errorCode, E.NONE, 'static members skip the MEMBER_ID_REQUIRED round trip');
  await c.sync({
    groupId: 'g',
    generationId: 1,
    memberId: first.memberId,
    groupInstanceId: inst,
    assignments: [{ memberId: first.memberId, assignment: Buffer.from('a') }],
  });
  // The process restarts without leaving: a new incarnation joins with the same instance id.
  const second = await c.join(req({ groupInstanceId: inst }));
  t.equal(second.errorCode, E.NONE);
  t.not(second.memberId, first.memberId);
  t.equal(second.generationId, 2);
  t.same(c.inspect('g').members, [second.memberId], 'the old member id is gone at once, no session wait');
  const zombie = { groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: inst };
  t.equal(c.heartbeat(zombie), E.FENCED_INSTANCE_ID);
  t.equal((await c.sync({ ...zombie, assignments: [] })).errorCode, E.FENCED_INSTANCE_ID);
  const commit = await c.commit({
    ...zombie,
    topics: [{ name: 't', partitions: [{ partition: 0, offset: 1, leaderEpoch: -1, metadata: null }] }],
  });
  t.equal(commit[0]!.partitions[0]!.errorCode, E.FENCED_INSTANCE_ID, 'a zombie cannot commit');
  t.equal(
    (await c.join(req({ memberId: first.memberId, groupInstanceId: inst }))).errorCode,
    E.FENCED_INSTANCE_ID,
  );
  t.equal(
    c.leave('g', [{ memberId: first.memberId, groupInstanceId: inst }]).members[0]!.errorCode,
    E.FENCED_INSTANCE_ID,
  );
  t.equal(
    c.heartbeat({ groupId: 'g', generationId: 2, memberId: second.memberId, groupInstanceId: inst }),
    E.NONE,
    'the current incarnation is fine',
  );
  const left = c.leave('g', [{ memberId: '', groupInstanceId: inst }]);
  t.equal(left.members[0]!.errorCode, E.NONE, 'leave by instance id alone');
  t.equal(c.inspect('g').state, 'Empty');
});

t.test('offsets of a deleted topic do not carry over to a new topic of the same name', async (t) => {
  const ids = new Map([['t', 'id-1']]);
  const { state, open } = await setup(t, { topicIdOf: (topic) => ids.get(topic) });
  const commit = (offset: number) =>
    state.c.commit({
      groupId: 'g',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: 't', partitions: [{ partition: 0, offset, leaderEpoch: -1, metadata: null }] }],
    });
  const offsetNow = () => state.c.fetch('g', [{ name: 't', partitions: [0] }])[0]!.partitions[0]!.offset;
  await commit(500);
  t.equal(offsetNow(), 500);
  ids.set('t', 'id-2'); // deleted and created again
  t.equal(offsetNow(), -1, 'the new topic starts from the reset policy, not offset 500 of the old one');
  t.same(state.c.fetch('g', null), [], 'nor is it listed');
  await commit(7);
  await state.c.close();
  state.c = await open();
  t.equal(offsetNow(), 7, 'commits against the new topic count, across a restart too');
});
