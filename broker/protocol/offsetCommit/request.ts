// OffsetCommit request v0-v8. v1+ adds generation and member id (v1 also a per-partition commit
// timestamp, dropped again in v2); v2-v4 carry a retention time (ignored: retention is the
// broker's); v6+ adds the leader epoch per partition; v7+ group_instance_id; v8 flexible.
import type { Reader } from '../codec.js';

export interface OffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: {
    name: string;
    partitions: { partition: number; offset: number; leaderEpoch: number; metadata: string | null }[];
  }[];
}

/** int64 as a number; NaN when it does not fit exactly, so the coordinator refuses that partition. */
function offsetOf(v: bigint): number {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(v)
    : Number.NaN;
}

export function decodeOffsetCommitRequest(r: Reader, version: number): OffsetCommitRequest {
  const flex = version >= 8;
  const groupId = r.str(flex);
  const generationId = version >= 1 ? r.int32() : -1;
  const memberId = version >= 1 ? r.str(flex) : '';
  const groupInstanceId = version >= 7 ? r.nullableStr(flex) : null;
  if (version >= 2 && version <= 4) r.int64(); // retention_time_ms
  const topics = r.arr(flex, (r) => {
    const name = r.str(flex);
    const partitions = r.arr(flex, (r) => {
      const partition = r.int32();
      const offset = offsetOf(r.int64());
      const leaderEpoch = version >= 6 ? r.int32() : -1;
      if (version === 1) r.int64(); // commit_timestamp: the broker stamps commits itself
      const metadata = r.nullableStr(flex);
      r.tags(flex);
      return { partition, offset, leaderEpoch, metadata };
    });
    r.tags(flex);
    return { name, partitions };
  });
  r.tags(flex);
  return { groupId, generationId, memberId, groupInstanceId, topics };
}
