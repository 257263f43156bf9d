// OffsetFetch response v0-v7. v2+ adds a top-level error code (last); v3+ starts with throttle
// time; v5+ adds the leader epoch per partition; v6+ flexible.
import type { FetchResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeOffsetFetchResponse(res: FetchResult, errorCode: number, version: number): Writer {
  const flex = version >= 6;
  const w = new Writer(128);
  if (version >= 3) w.int32(0); // throttle_time_ms
  w.arr(flex, res, (w, t) => {
    w.str(flex, t.name);
    w.arr(flex, t.partitions, (w, p) => {
      w.int32(p.partition).int64(p.offset);
      if (version >= 5) w.int32(p.leaderEpoch);
      w.nullableStr(flex, p.metadata).int16(p.errorCode).tags(flex);
    });
    w.tags(flex);
  });
  if (version >= 2) w.int16(errorCode);
  w.tags(flex);
  return w;
}
