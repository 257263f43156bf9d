// ListOffsets (key 2), v1-v7 (v6+ flexible): earliest (-2), latest (-1), max timestamp (-3)
// or the first offset whose batch timestamp is >= a given time. A consumer is never told an
// offset past the high watermark (what Fetch serves); see resolve.ts.
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import type { Reader } from '../codec.js';
import { ProtocolError, Writer } from '../codec.js';
import { ErrorCode } from '../errors.js';
import { resolveOffset } from './resolve.js';

interface PartitionQuery {
  partition: number;
  timestamp: number;
}

function decode(r: Reader, version: number) {
  const flex = version >= 6;
  const replicaId = r.int32();
  // v1 has no isolation level: READ_UNCOMMITTED. Both levels answer the same here (no
  // transactions), but an unknown one is a malformed request, as Kafka refuses it too.
  const isolation = version >= 2 ? r.int8() : 0;
  if (isolation !== 0 && isolation !== 1) {
    throw new ProtocolError('invalid-value', `ListOffsets isolation_level ${isolation} (expected 0 or 1)`);
  }
  const topics = r.arr(flex, (r) => {
    const name = r.str(flex);
    const partitions = r.arr(flex, (r): PartitionQuery => {
      const partition = r.int32();
      if (version >= 4) r.int32(); // current_leader_epoch
      const timestamp = r.int64n();
      r.tags(flex);
      return { partition, timestamp };
    });
    r.tags(flex);
    return { name, partitions };
  });
  r.tags(flex);
  return { replicaId, topics };
}

interface PartitionAnswer {
  partition: number;
  errorCode: number;
  timestamp: number;
  offset: number;
}

function encode(topics: { name: string; partitions: PartitionAnswer[] }[], version: number): Writer {
  const flex = version >= 6;
  const w = new Writer();
  if (version >= 2) w.int32(0); // throttle_time_ms
  w.arr(flex, topics, (w, t) => {
    w.str(flex, t.name);
    w.arr(flex, t.partitions, (w, p) => {
      w.int32(p.partition).int16(p.errorCode).int64(p.timestamp).int64(p.offset);
      if (version >= 4) w.int32(0); // leader_epoch
      w.tags(flex);
    });
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}

export const listOffsets: ApiHandler = {
  apiKey: ApiKey.ListOffsets,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 7,
  flexibleFrom: 6,
  handle(ctx, req, version) {
    const { replicaId, topics: queries } = decode(req, version);
    const topics = queries.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((q): PartitionAnswer => {
        const log = ctx.broker.topics.partition(t.name, q.partition);
        if (!log) {
          const errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          return { partition: q.partition, errorCode, timestamp: -1, offset: -1 };
        }
        return { partition: q.partition, errorCode: 0, ...resolveOffset(log, q.timestamp, replicaId) };
      }),
    }));
    return encode(topics, version);
  },
};
