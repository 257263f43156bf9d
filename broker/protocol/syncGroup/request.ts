// SyncGroup request v0-v5. v3+ adds group_instance_id; v4+ flexible; v5+ names the protocol type
// and name the client believes the group uses (checked against the group's).
import type { Reader } from '../codec.js';

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export function decodeSyncGroupRequest(r: Reader, version: number): SyncGroupRequest {
  const flex = version >= 4;
  const groupId = r.str(flex);
  const generationId = r.int32();
  const memberId = r.str(flex);
  const groupInstanceId = version >= 3 ? r.nullableStr(flex) : null;
  const protocolType = version >= 5 ? r.nullableStr(flex) : null;
  const protocolName = version >= 5 ? r.nullableStr(flex) : null;
  // Copies: assignments outlive the request buffer (kept and persisted by the group).
  const assignments = r.arr(flex, (r) => {
    const id = r.str(flex);
    const assignment = Buffer.from(flex ? r.compactBytes() : r.bytes());
    r.tags(flex);
    return { memberId: id, assignment };
  });
  r.tags(flex);
  return { groupId, generationId, memberId, groupInstanceId, protocolType, protocolName, assignments };
}
