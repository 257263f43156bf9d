// Hostile bytes into every group API handler of a real broker: truncations, flipped bytes and
// garbage after valid requests of each version. Each must give a response or a ProtocolError
// (which closes only that connection), never another exception; the coordinator keeps serving.
import t from 'tap';
import { seededRandom } from '../agent/sim/random.js';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { ProtocolError, Reader, Writer } from '../broker/protocol/codec.js';
import type { RequestContext } from '../broker/server/api.js';
import { createLogger } from '../shared/log.js';
import { groupBroker } from './helpers/broker-groups.js';

/** Deterministic PRNG (the fleet simulator's) so a failure reproduces. */
const rng = seededRandom;

const protocols = (w: Writer) =>
  w.array([{ name: 'range', metadata: Buffer.from([0, 1, 0, 0, 0, 1, 0, 1, 116]) }], (w, p) => {
    w.string(p.name).bytes(p.metadata);
  });

/** A valid body for each API and version: the seeds the mutations start from. */
const seeds: Record<number, (v: number) => Buffer> = {
  [ApiKey.FindCoordinator]: (v) => {
    const w = new Writer().string('g');
    if (v >= 1) w.int8(0);
    return w.toBuffer();
  },
  [ApiKey.JoinGroup]: (v) => {
    const w = new Writer().string('g').int32(6000);
    if (v >= 1) w.int32(7000);
    w.string('');
    if (v >= 5) w.nullableString(null);
    w.string('consumer');
    protocols(w);
    return w.toBuffer();
  },
  [ApiKey.SyncGroup]: (v) => {
    const w = new Writer().string('g').int32(1).string('m');
    if (v >= 3) w.nullableString('i');
    w.array(['m'], (w, id) => {
      w.string(id).bytes(Buffer.from('assignment'));
    });
    return w.toBuffer();
  },
  [ApiKey.Heartbeat]: (v) => {
    const w = new Writer().string('g').int32(1).string('m');
    if (v >= 3) w.nullableString(null);
    return w.toBuffer();
  },
  [ApiKey.LeaveGroup]: (v) => {
    const w = new Writer().string('g');
    if (v < 3) return w.string('m').toBuffer();
    w.array(['m'], (w, id) => {
      w.string(id).nullableString(null);
    });
    return w.toBuffer();
  },
  [ApiKey.OffsetCommit]: (v) => {
    const w = new Writer().string('g');
    if (v >= 1) w.int32(-1).string('');
    if (v >= 7) w.nullableString(null);
    if (v >= 2 && v <= 4) w.int64(-1);
    w.array(['t'], (w, n) => {
      w.string(n).array([0, 1], (w, p) => {
        w.int32(p).int64(5);
        if (v >= 6) w.int32(-1);
        if (v === 1) w.int64(0);
        w.nullableString('m');
      });
    });
    return w.toBuffer();
  },
  [ApiKey.OffsetFetch]: () =>
    new Writer()
      .string('g')
      .array(['t'], (w, n) => {
        w.string(n).array([0, 1], (w, p) => {
          w.int32(p);
        });
      })
      .toBuffer(),
  [ApiKey.DescribeGroups]: (v) => {
    const w = new Writer().array(['g', 'h'], (w, g) => {
      w.string(g);
    });
    if (v >= 3) w.bool(true);
    return w.toBuffer();
  },
  [ApiKey.ListGroups]: () => Buffer.alloc(0),
  [ApiKey.DeleteGroups]: () =>
    new Writer()
      .array(['gone'], (w, g) => {
        w.string(g);
      })
      .toBuffer(),
};

function mutate(seed: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(seed);
  switch (Math.floor(rand() * 4)) {
    case 0:
      return b.subarray(0, Math.floor(rand() * b.length)); // truncated
    case 1: {
      for (let i = 0; i < 1 + rand() * 4; i++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      return b; // bytes flipped: lengths, counts, ids, generations
    }
    case 2: {
      if (b.length < 4) return Buffer.alloc(0);
      const at = Math.floor(rand() * Math.max(1, b.length - 4));
      b.writeInt32BE(
        [0x7fffffff, -2, -1, 0x10000][Math.floor(rand() * 4)]!,
        Math.min(at, Math.max(0, b.length - 4)),
      );
      return b; // a hostile length or count
    }
    default:
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + rand() * 16 }, () => rand() * 256))]);
  }
}

t.test('mutated requests: a response or a ProtocolError, never a crash', async (t) => {
  const { broker } = await groupBroker(t);
  const abort = new AbortController();
  const ctx = (apiKey: number, apiVersion: number): RequestContext => ({
    broker: broker.context,
    apiKey,
    apiVersion,
    correlationId: 1,
    clientId: 'fuzz',
    connectionId: 1,
    remoteAddress: '127.0.0.1',
    log: createLogger('fuzz', 'silent'),
    signal: abort.signal,
  });
  const rand = rng(20261125);
  const outcomes: Promise<'response' | 'protocol-error' | string>[] = [];
  let calls = 0;
  for (const [key, seedOf] of Object.entries(seeds)) {
    const h = broker.context.apis.get(Number(key))!;
    t.ok(h, `handler for key ${key}`);
    for (let v = h.minVersion; v <= h.maxVersion; v++) {
      const seed = seedOf(v);
      for (let i = 0; i < 150; i++) {
        const body = i === 0 ? seed : mutate(seed, rand);
        calls++;
        // Not awaited one by one: a well-formed JoinGroup parks until its rebalance completes.
        outcomes.push(
          Promise.resolve()
            .then(() => h.handle(ctx(h.apiKey, v), new Reader(body), v))
            .then(
              () => 'response' as const,
              (e: unknown) =>
                e instanceof ProtocolError ? ('protocol-error' as const) : `${h.name} v${v}: ${String(e)}`,
            ),
        );
      }
    }
  }
  // Still serving: a clean heartbeat on a connection of its own gets its answer.
  const hb = broker.context.apis.get(ApiKey.Heartbeat)!;
  const beat = await hb.handle(ctx(ApiKey.Heartbeat, 0), new Reader(seeds[ApiKey.Heartbeat]!(0)), 0);
  t.ok(beat, 'a valid request after the barrage is answered');
  await broker.stop(); // answers the parked joins and syncs
  const results = await Promise.all(outcomes);
  const crashes = results.filter((r) => r !== 'response' && r !== 'protocol-error');
  t.same(crashes, [], `${calls} mutated requests, no exception other than ProtocolError`);
  t.ok(results.includes('protocol-error') && results.includes('response'), 'both outcomes exercised');
  t.comment(
    `${results.filter((r) => r === 'response').length} answered, ${results.filter((r) => r === 'protocol-error').length} refused as malformed`,
  );
});
