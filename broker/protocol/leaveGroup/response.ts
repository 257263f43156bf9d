// LeaveGroup response v0-v5. v1+ starts with throttle time; v3+ has per-member results (before
// v3 the single member's error is the response's error); v4+ flexible.
import type { LeaveResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeLeaveGroupResponse(res: LeaveResult, version: number): Writer {
  const flex = version >= 4;
  const w = new Writer(64);
  if (version >= 1) w.int32(0); // throttle_time_ms
  if (version < 3) return w.int16(res.errorCode || (res.members[0]?.errorCode ?? 0));
  w.int16(res.errorCode);
  w.arr(flex, res.members, (w, m) => {
    w.str(flex, m.memberId).nullableStr(flex, m.groupInstanceId).int16(m.errorCode).tags(flex);
  });
  w.tags(flex);
  return w;
}
