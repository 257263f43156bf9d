// LeaveGroup request v0-v5. v0-v2: one member id; v3+ a batch of members (with instance ids);
// v4+ flexible; v5+ each member gives a free-text reason.
import type { Reader } from '../codec.js';

export interface LeaveGroupRequest {
  groupId: string;
  members: { memberId: string; groupInstanceId: string | null; reason: string | null }[];
}

export function decodeLeaveGroupRequest(r: Reader, version: number): LeaveGroupRequest {
  const flex = version >= 4;
  const groupId = r.str(flex);
  if (version < 3)
    return { groupId, members: [{ memberId: r.str(flex), groupInstanceId: null, reason: null }] };
  const members = r.arr(flex, (r) => {
    const memberId = r.str(flex);
    const groupInstanceId = r.nullableStr(flex);
    const reason = version >= 5 ? r.nullableStr(flex) : null;
    r.tags(flex);
    return { memberId, groupInstanceId, reason };
  });
  r.tags(flex);
  return { groupId, members };
}
