// ListOffsets (key 2), v1-v7 (v6+ flexible): earliest (-2), latest (-1), max timestamp (-3)
// or the first offset whose batch timestamp is >= a given time.
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import type { Reader } from '../codec.js';
import { Writer } from '../codec.js';
import { ErrorCode } from '../errors.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;

interface PartitionQuery {
  partition: number;
  timestamp: number;
}

function decode(r: Reader, version: number) {
  const flex = version >= 6;
  r.int32(); // replica_id
  if (version >= 2) r.int8(); // isolation_level
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
  return topics;
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
    const topics = decode(req, version).map((t) => ({
      name: t.name,
      partitions: t.partitions.map((q): PartitionAnswer => {
        const log = ctx.broker.topics.partition(t.name, q.partition);
        const a: PartitionAnswer = { partition: q.partition, errorCode: 0, timestamp: -1, offset: -1 };
        if (!log) {
          a.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          return a;
        }
        if (q.timestamp === LATEST) a.offset = log.logEndOffset;
        else if (q.timestamp === EARLIEST) a.offset = log.logStartOffset;
        else {
          const found =
            q.timestamp === MAX_TIMESTAMP ? log.maxTimestamp() : log.offsetForTimestamp(q.timestamp);
          if (found) {
            a.offset = Math.max(found.offset, log.logStartOffset);
            a.timestamp = found.timestamp;
          }
        }
        return a;
      }),
    }));
    return encode(topics, version);
  },
};
