// DeleteGroups response v0-v1 (both start with throttle time).
import { Writer } from '../codec.js';

export function encodeDeleteGroupsResponse(
  results: readonly { groupId: string; errorCode: number }[],
  _version: number,
): Writer {
  const w = new Writer(64);
  w.int32(0); // throttle_time_ms
  w.array(results, (w, r) => {
    w.string(r.groupId).int16(r.errorCode);
  });
  return w;
}
