// OffsetFetch response v0-v5. v2+ adds a top-level error code (last); v3+ starts with throttle
// time; v5+ adds the leader epoch per partition.
import type { FetchResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeOffsetFetchResponse(res: FetchResult, errorCode: number, version: number): Writer {
  const w = new Writer(128);
  if (version >= 3) w.int32(0); // throttle_time_ms
  w.array(res, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) => {
      w.int32(p.partition).int64(p.offset);
      if (version >= 5) w.int32(p.leaderEpoch);
      w.nullableString(p.metadata).int16(p.errorCode);
    });
  });
  if (version >= 2) w.int16(errorCode);
  return w;
}
