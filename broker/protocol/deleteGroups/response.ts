// DeleteGroups response v0-v2 (all start with throttle time); v2 flexible.
import { Writer } from '../codec.js';

export function encodeDeleteGroupsResponse(
  results: readonly { groupId: string; errorCode: number }[],
  version: number,
): Writer {
  const flex = version >= 2;
  const w = new Writer(64);
  w.int32(0); // throttle_time_ms
  w.arr(flex, results, (w, r) => {
    w.str(flex, r.groupId).int16(r.errorCode).tags(flex);
  });
  w.tags(flex);
  return w;
}
