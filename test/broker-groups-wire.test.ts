// The group APIs on the wire, byte for byte, across the versions kafkajs and librdkafka use:
// field layouts per version, error codes for bad input (unknown group, wrong generation, garbage
// member id, oversize offsets), and a malformed request costing only its own connection.
import t from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import type { Reader, Writer } from '../broker/protocol/codec.js';
import { ErrorCode as E } from '../broker/protocol/errors.js';
import { groupBrokerWithAdmin } from './helpers/broker-groups.js';
import { WireClient } from './helpers/broker-groups-wire.js';

const { broker, admin } = await groupBrokerWithAdmin(t);
await admin.createTopics({ topics: [{ topic: 'w', numPartitions: 2 }], waitForLeaders: true });
const wire = await WireClient.connect(broker.port);
t.teardown(() => wire.close());

const META = Buffer.from('subscription');

function joinV(version: number, groupId: string, memberId: string, protocolType = 'consumer') {
  return (w: Writer) => {
    w.string(groupId).int32(6000);
    if (version >= 1) w.int32(8000);
    w.string(memberId);
    if (version >= 5) w.nullableString(null);
    w.string(protocolType);
    w.array([{ name: 'range', metadata: META }], (w, p) => {
      w.string(p.name).bytes(p.metadata);
    });
  };
}

function readJoin(r: Reader, version: number) {
  if (version >= 2) r.int32();
  return {
    errorCode: r.int16(),
    generationId: r.int32(),
    protocol: r.string(),
    leader: r.string(),
    memberId: r.string(),
    members: r.array((r) => ({
      memberId: r.string(),
      instance: version >= 5 ? r.nullableString() : null,
      metadata: Buffer.from(r.bytes()),
    })),
  };
}

const heartbeat = async (groupId: string, gen: number, memberId: string, version = 3) => {
  const r = await wire.request(ApiKey.Heartbeat, version, (w) => {
    w.string(groupId).int32(gen).string(memberId);
    if (version >= 3) w.nullableString(null);
  });
  if (version >= 1) r.int32();
  return r.int16();
};

t.test('ApiVersions advertises the group APIs at the versions implemented', async (t) => {
  const r = await wire.request(ApiKey.ApiVersions, 0, () => {});
  t.equal(r.int16(), 0);
  const apis = new Map(r.array((r) => [r.int16(), [r.int16(), r.int16()]] as const));
  t.same(apis.get(ApiKey.FindCoordinator), [0, 3]);
  t.same(apis.get(ApiKey.JoinGroup), [0, 9]);
  t.same(apis.get(ApiKey.SyncGroup), [0, 5]);
  t.same(apis.get(ApiKey.Heartbeat), [0, 4]);
  t.same(apis.get(ApiKey.LeaveGroup), [0, 5]);
  t.same(apis.get(ApiKey.OffsetCommit), [0, 8]);
  t.same(apis.get(ApiKey.OffsetFetch), [0, 7]);
  t.same(apis.get(ApiKey.DescribeGroups), [0, 5]);
  t.same(apis.get(ApiKey.ListGroups), [0, 4]);
  t.same(apis.get(ApiKey.DeleteGroups), [0, 2]);
});

t.test('FindCoordinator: this broker for any group; transactions and empty ids refused', async (t) => {
  for (const v of [0, 1, 2]) {
    const r = await wire.request(ApiKey.FindCoordinator, v, (w) => {
      w.string('any-group');
      if (v >= 1) w.int8(0);
    });
    if (v >= 1) r.int32();
    t.equal(r.int16(), E.NONE, `v${v}`);
    if (v >= 1) t.equal(r.nullableString(), null);
    t.same(
      [r.int32(), r.string(), r.int32()],
      [broker.context.node.nodeId, broker.host, broker.port],
      `v${v} node`,
    );
  }
  const txn = await wire.request(ApiKey.FindCoordinator, 1, (w) => w.string('tx').int8(1));
  txn.int32();
  t.equal(txn.int16(), E.COORDINATOR_NOT_AVAILABLE);
  t.match(txn.nullableString(), /transactions/);
  const empty = await wire.request(ApiKey.FindCoordinator, 2, (w) => w.string('').int8(0));
  empty.int32();
  t.equal(empty.int16(), E.INVALID_GROUP_ID);
});

t.test('JoinGroup v5 dance, SyncGroup v3, Heartbeat, OffsetCommit v7 with the generation', async (t) => {
  const first = readJoin(await wire.request(ApiKey.JoinGroup, 5, joinV(5, 'wg', '')), 5);
  t.equal(first.errorCode, E.MEMBER_ID_REQUIRED);
  t.match(first.memberId, /^wire-test-/, 'member id is client id + uuid');
  const joined = readJoin(await wire.request(ApiKey.JoinGroup, 5, joinV(5, 'wg', first.memberId)), 5);
  t.equal(joined.errorCode, E.NONE);
  t.equal(joined.generationId, 1);
  t.equal(joined.protocol, 'range');
  t.equal(joined.leader, first.memberId);
  t.same(joined.members, [{ memberId: first.memberId, instance: null, metadata: META }]);

  const sync = await wire.request(ApiKey.SyncGroup, 3, (w) => {
    w.string('wg').int32(1).string(first.memberId).nullableString(null);
    w.array([first.memberId], (w, id) => {
      w.string(id).bytes(Buffer.from('my-partitions'));
    });
  });
  sync.int32();
  t.equal(sync.int16(), E.NONE);
  t.equal(sync.bytes().toString(), 'my-partitions');

  t.equal(await heartbeat('wg', 1, first.memberId), E.NONE);
  t.equal(await heartbeat('wg', 0, first.memberId, 0), E.ILLEGAL_GENERATION, 'v0 wrong generation');
  t.equal(await heartbeat('wg', 2, first.memberId), E.ILLEGAL_GENERATION);
  t.equal(await heartbeat('wg', 1, 'garbage\u0000id'), E.UNKNOWN_MEMBER_ID);
  t.equal(await heartbeat('no-such-group', 1, first.memberId), E.UNKNOWN_MEMBER_ID);

  const commit = async (gen: number, offset: bigint, topic = 'w') => {
    const r = await wire.request(ApiKey.OffsetCommit, 7, (w) => {
      w.string('wg').int32(gen).string(first.memberId).nullableString(null);
      w.array([topic], (w, name) => {
        w.string(name);
        w.array([1], (w, p) => {
          w.int32(p).int64(offset).int32(5).nullableString('meta');
        });
      });
    });
    r.int32();
    const [res] = r.array((r) => ({ name: r.string(), parts: r.array((r) => [r.int32(), r.int16()]) }));
    return res!.parts[0]![1];
  };
  t.equal(await commit(1, 17n), E.NONE);
  t.equal(await commit(3, 18n), E.ILLEGAL_GENERATION);
  t.equal(
    await commit(1, 1n << 62n),
    E.INVALID_COMMIT_OFFSET_SIZE,
    'an offset beyond 2^53 is refused, not rounded',
  );
  t.equal(await commit(1, 3n, 'no-such-topic'), E.UNKNOWN_TOPIC_OR_PARTITION);

  const f5 = await wire.request(ApiKey.OffsetFetch, 5, (w) => {
    w.string('wg');
    w.nullableArray([{ name: 'w', parts: [0, 1] }], (w, x) => {
      w.string(x.name).array(x.parts, (w, p) => {
        w.int32(p);
      });
    });
  });
  f5.int32();
  const topics = f5.array((r) => ({
    name: r.string(),
    parts: r.array((r) => [r.int32(), Number(r.int64()), r.int32(), r.nullableString(), r.int16()]),
  }));
  t.same(topics, [
    {
      name: 'w',
      parts: [
        [0, -1, -1, '', 0],
        [1, 17, 5, 'meta', 0],
      ],
    },
  ]);
  t.equal(f5.int16(), E.NONE);

  const d = await wire.request(ApiKey.DescribeGroups, 4, (w) => {
    w.array(['wg', 'ghost'], (w, g) => {
      w.string(g);
    });
    w.bool(false);
  });
  d.int32();
  const groups = d.array((r) => ({
    error: r.int16(),
    id: r.string(),
    state: r.string(),
    type: r.string(),
    protocol: r.string(),
    members: r.array((r) => ({
      id: r.string(),
      instance: r.nullableString(),
      client: r.string(),
      host: r.string(),
      metadata: Buffer.from(r.bytes()),
      assignment: r.bytes().toString(),
    })),
    ops: r.int32(),
  }));
  t.equal(groups[0]!.state, 'Stable');
  t.equal(groups[0]!.protocol, 'range');
  t.same(
    groups[0]!.members.map((m) => [m.id, m.client, m.assignment]),
    [[first.memberId, 'wire-test', 'my-partitions']],
  );
  t.equal(groups[1]!.state, 'Dead', 'an unknown group is described as Dead');

  const l = await wire.request(ApiKey.ListGroups, 2, () => {});
  l.int32();
  t.equal(l.int16(), E.NONE);
  t.ok(
    l.array((r) => [r.string(), r.string()]).some(([g, type]) => g === 'wg' && type === 'consumer'),
    'listed with its protocol type',
  );

  const leave = await wire.request(ApiKey.LeaveGroup, 3, (w) => {
    w.string('wg');
    w.array([first.memberId, 'stranger'], (w, id) => {
      w.string(id).nullableString(null);
    });
  });
  leave.int32();
  t.equal(leave.int16(), E.NONE);
  t.same(
    leave.array((r) => [r.string(), r.nullableString(), r.int16()]),
    [
      [first.memberId, null, E.NONE],
      ['stranger', null, E.UNKNOWN_MEMBER_ID],
    ],
  );
  t.equal(await heartbeat('wg', 1, first.memberId), E.UNKNOWN_MEMBER_ID, 'gone after leaving');
});

t.test('old versions: JoinGroup v0 joins directly, OffsetCommit v1/v2 and OffsetFetch v1/v2', async (t) => {
  const j = readJoin(await wire.request(ApiKey.JoinGroup, 0, joinV(0, 'old', '')), 0);
  t.equal(j.errorCode, E.NONE, 'no MEMBER_ID_REQUIRED before v4');
  t.equal(j.generationId, 1);
  const leave = await wire.request(ApiKey.LeaveGroup, 0, (w) => w.string('old').string(j.memberId));
  t.equal(leave.int16(), E.NONE);
  const leave2 = await wire.request(ApiKey.LeaveGroup, 1, (w) => w.string('old').string('nobody'));
  leave2.int32();
  t.equal(leave2.int16(), E.UNKNOWN_MEMBER_ID, 'before v3 the member error is the response error');

  // v2 simple commit (generation -1, no member) into a group nobody has joined.
  const c2 = await wire.request(ApiKey.OffsetCommit, 2, (w) => {
    w.string('simple').int32(-1).string('').int64(-1);
    w.array([0], (w, p) => {
      w.string('w').array([p], (w, p) => {
        w.int32(p).int64(9).nullableString(null);
      });
    });
  });
  t.same(
    c2.array((r) => [r.string(), r.array((r) => [r.int32(), r.int16()])]),
    [['w', [[0, E.NONE]]]],
  );
  // v1 carries a per-partition timestamp.
  const c1 = await wire.request(ApiKey.OffsetCommit, 1, (w) => {
    w.string('simple').int32(-1).string('');
    w.array([1], (w, p) => {
      w.string('w').array([p], (w, p) => {
        w.int32(p).int64(4).int64(123).nullableString('x');
      });
    });
  });
  t.same(
    c1.array((r) => [r.string(), r.array((r) => [r.int32(), r.int16()])]),
    [['w', [[1, E.NONE]]]],
  );
  const f1 = await wire.request(ApiKey.OffsetFetch, 1, (w) => {
    w.string('simple').array(['w'], (w, n) => {
      w.string(n).array([0, 1], (w, p) => {
        w.int32(p);
      });
    });
  });
  t.same(
    f1.array((r) => [
      r.string(),
      r.array((r) => [r.int32(), Number(r.int64()), r.nullableString(), r.int16()]),
    ]),
    [
      [
        'w',
        [
          [0, 9, null, 0],
          [1, 4, 'x', 0],
        ],
      ],
    ],
  );
  const f2 = await wire.request(ApiKey.OffsetFetch, 2, (w) => {
    w.string('simple').nullableArray(null, () => {});
  });
  const all = f2.array((r) => [r.string(), r.array((r) => r.int32()).length]);
  t.equal(f2.int16(), E.NONE);
  t.same(all, [['w', 2]], 'null topics = everything the group committed');
});

t.test('bad input: session timeout, empty group, inconsistent protocol, truncated body', async (t) => {
  const bad = readJoin(
    await wire.request(ApiKey.JoinGroup, 1, (w) => {
      w.string('b')
        .int32(5)
        .int32(8000)
        .string('')
        .string('consumer')
        .array([], () => {});
    }),
    1,
  );
  t.equal(bad.errorCode, E.INVALID_SESSION_TIMEOUT);
  t.equal(
    readJoin(await wire.request(ApiKey.JoinGroup, 5, joinV(5, '', '')), 5).errorCode,
    E.INVALID_GROUP_ID,
  );
  const sync = await wire.request(ApiKey.SyncGroup, 0, (w) => {
    w.string('nope')
      .int32(1)
      .string('m')
      .array([], () => {});
  });
  t.equal(sync.int16(), E.UNKNOWN_MEMBER_ID);

  const v0 = readJoin(await wire.request(ApiKey.JoinGroup, 3, joinV(3, 'mixed', '')), 3);
  t.equal(v0.errorCode, E.NONE);
  const other = readJoin(await wire.request(ApiKey.JoinGroup, 3, joinV(3, 'mixed', '', 'connect')), 3);
  t.equal(other.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);

  const victim = await WireClient.connect(broker.port);
  await t.rejects(
    victim.request(ApiKey.JoinGroup, 5, (w) => {
      w.string('trunc').int32(6000); // and nothing more
    }),
    /closed/,
    'a truncated request closes that connection',
  );
  t.equal(await heartbeat('mixed', 1, v0.memberId), E.NONE, 'other connections carry on');
});

t.test('flexible versions: a whole group life cycle in compact encodings with tagged fields', async (t) => {
  const F = { flexible: true };
  const fc = await wire.request(
    ApiKey.FindCoordinator,
    3,
    (w) => w.compactString('flex').int8(0).taggedFields(),
    F,
  );
  fc.int32();
  t.equal(fc.int16(), E.NONE);
  t.equal(fc.compactNullableString(), null);
  t.same(
    [fc.int32(), fc.compactString(), fc.int32()],
    [broker.context.node.nodeId, broker.host, broker.port],
  );
  fc.taggedFields();
  t.equal(fc.remaining, 0, 'FindCoordinator v3 fully consumed');

  const join9 = (memberId: string) => (w: Writer) => {
    w.compactString('flex').int32(6000).int32(8000).compactString(memberId).compactNullableString(null);
    w.compactString('consumer');
    w.compactArray([{ name: 'range', metadata: META }], (w, p) => {
      w.compactString(p.name).compactBytes(p.metadata).taggedFields();
    });
    w.compactNullableString('starting up').taggedFields();
  };
  const readJoin9 = (r: Reader) => {
    r.int32();
    const res = {
      errorCode: r.int16(),
      generationId: r.int32(),
      protocolType: r.compactNullableString(),
      protocolName: r.compactNullableString(),
      leader: r.compactString(),
      skipAssignment: r.bool(),
      memberId: r.compactString(),
      members: r.compactArray((r) => {
        const m = {
          memberId: r.compactString(),
          instance: r.compactNullableString(),
          metadata: Buffer.from(r.compactBytes()),
        };
        r.taggedFields();
        return m;
      }),
    };
    r.taggedFields();
    return res;
  };
  const first = readJoin9(await wire.request(ApiKey.JoinGroup, 9, join9(''), F));
  t.equal(first.errorCode, E.MEMBER_ID_REQUIRED);
  t.equal(first.protocolName, null, 'v7+: no protocol on an error');
  const joined = readJoin9(await wire.request(ApiKey.JoinGroup, 9, join9(first.memberId), F));
  t.match(joined, {
    errorCode: E.NONE,
    generationId: 1,
    protocolType: 'consumer',
    protocolName: 'range',
    leader: first.memberId,
    skipAssignment: false,
    memberId: first.memberId,
  });
  t.same(joined.members, [{ memberId: first.memberId, instance: null, metadata: META }]);

  const sync5 = (protocolName: string) => (w: Writer) => {
    w.compactString('flex').int32(1).compactString(first.memberId).compactNullableString(null);
    w.compactNullableString('consumer').compactNullableString(protocolName);
    w.compactArray([first.memberId], (w, id) => {
      w.compactString(id).compactBytes(Buffer.from('flex-assignment')).taggedFields();
    });
    w.taggedFields();
  };
  const wrong = await wire.request(ApiKey.SyncGroup, 5, sync5('roundrobin'), F);
  wrong.int32();
  t.equal(wrong.int16(), E.INCONSISTENT_GROUP_PROTOCOL, 'v5: a protocol name the group does not use');
  const s = await wire.request(ApiKey.SyncGroup, 5, sync5('range'), F);
  s.int32();
  t.equal(s.int16(), E.NONE);
  t.same([s.compactNullableString(), s.compactNullableString()], ['consumer', 'range']);
  t.equal(s.compactBytes().toString(), 'flex-assignment');
  s.taggedFields();
  t.equal(s.remaining, 0);

  const hb = await wire.request(
    ApiKey.Heartbeat,
    4,
    (w) =>
      w
        .compactString('flex')
        .int32(1)
        .compactString(first.memberId)
        .compactNullableString(null)
        .taggedFields(),
    F,
  );
  hb.int32();
  t.equal(hb.int16(), E.NONE);

  const oc = await wire.request(
    ApiKey.OffsetCommit,
    8,
    (w) => {
      w.compactString('flex').int32(1).compactString(first.memberId).compactNullableString(null);
      w.compactArray(['w'], (w, n) => {
        w.compactString(n);
        w.compactArray([0], (w, p) => {
          w.int32(p).int64(33).int32(2).compactNullableString('flexmeta').taggedFields();
        });
        w.taggedFields();
      });
      w.taggedFields();
    },
    F,
  );
  oc.int32();
  const ocTopics = oc.compactArray((r) => {
    const name = r.compactString();
    const parts = r.compactArray((r) => {
      const p = [r.int32(), r.int16()];
      r.taggedFields();
      return p;
    });
    r.taggedFields();
    return [name, parts];
  });
  t.same(ocTopics, [['w', [[0, E.NONE]]]]);

  const of = await wire.request(
    ApiKey.OffsetFetch,
    7,
    (w) => {
      w.compactString('flex').compactNullableArray(null, () => {});
      w.bool(true).taggedFields(); // require_stable
    },
    F,
  );
  of.int32();
  const ofTopics = of.compactArray((r) => {
    const name = r.compactString();
    const parts = r.compactArray((r) => {
      const p = [r.int32(), Number(r.int64()), r.int32(), r.compactNullableString(), r.int16()];
      r.taggedFields();
      return p;
    });
    r.taggedFields();
    return [name, parts];
  });
  t.same(ofTopics, [['w', [[0, 33, 2, 'flexmeta', 0]]]]);
  t.equal(of.int16(), E.NONE);

  const dg = await wire.request(
    ApiKey.DescribeGroups,
    5,
    (w) => {
      w.compactArray(['flex'], (w, g) => {
        w.compactString(g);
      });
      w.bool(false).taggedFields();
    },
    F,
  );
  dg.int32();
  const described = dg.compactArray((r) => {
    const g = {
      error: r.int16(),
      id: r.compactString(),
      state: r.compactString(),
      type: r.compactString(),
      protocol: r.compactString(),
      members: r.compactArray((r) => {
        const m = [
          r.compactString(),
          r.compactNullableString(),
          r.compactString(),
          r.compactString(),
          r.compactBytes().length,
          r.compactBytes().toString(),
        ];
        r.taggedFields();
        return m;
      }),
      ops: r.int32(),
    };
    r.taggedFields();
    return g;
  });
  t.match(described, [{ error: 0, id: 'flex', state: 'Stable', type: 'consumer', protocol: 'range' }]);
  t.equal(described[0]!.members[0]![5], 'flex-assignment');

  const list = async (states: string[]) => {
    const r = await wire.request(
      ApiKey.ListGroups,
      4,
      (w) => {
        w.compactArray(states, (w, s) => {
          w.compactString(s);
        });
        w.taggedFields();
      },
      F,
    );
    r.int32();
    t.equal(r.int16(), E.NONE);
    return r.compactArray((r) => {
      const g = [r.compactString(), r.compactString(), r.compactString()];
      r.taggedFields();
      return g;
    });
  };
  t.same(await list(['stable']), [['flex', 'consumer', 'Stable']], 'states filter, case-insensitive');
  t.notOk(
    (await list(['Empty'])).some(([g]) => g === 'flex'),
    'filtered out when not in the state',
  );

  const lv = await wire.request(
    ApiKey.LeaveGroup,
    5,
    (w) => {
      w.compactString('flex');
      w.compactArray([first.memberId], (w, id) => {
        w.compactString(id).compactNullableString(null).compactNullableString('shutting down').taggedFields();
      });
      w.taggedFields();
    },
    F,
  );
  lv.int32();
  t.equal(lv.int16(), E.NONE);
  const left = lv.compactArray((r) => {
    const m = [r.compactString(), r.compactNullableString(), r.int16()];
    r.taggedFields();
    return m;
  });
  t.same(left, [[first.memberId, null, E.NONE]]);

  const del = await wire.request(
    ApiKey.DeleteGroups,
    2,
    (w) => {
      w.compactArray(['flex'], (w, g) => {
        w.compactString(g);
      });
      w.taggedFields();
    },
    F,
  );
  del.int32();
  const deleted = del.compactArray((r) => {
    const x = [r.compactString(), r.int16()];
    r.taggedFields();
    return x;
  });
  t.same(deleted, [['flex', E.NONE]]);
});
