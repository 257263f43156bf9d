// LeaveGroup response v0-v3. v1+ starts with throttle time; v3+ has per-member results. Before v3
// the single member's error is the response's error.
import type { LeaveResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeLeaveGroupResponse(res: LeaveResult, version: number): Writer {
  const w = new Writer(64);
  if (version >= 1) w.int32(0); // throttle_time_ms
  if (version < 3) return w.int16(res.errorCode || (res.members[0]?.errorCode ?? 0));
  w.int16(res.errorCode);
  w.array(res.members, (w, m) => {
    w.string(m.memberId).nullableString(m.groupInstanceId).int16(m.errorCode);
  });
  return w;
}
