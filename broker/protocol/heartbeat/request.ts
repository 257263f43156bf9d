// Heartbeat request v0-v4. v3+ adds group_instance_id; v4 flexible.
import type { Reader } from '../codec.js';

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export function decodeHeartbeatRequest(r: Reader, version: number): HeartbeatRequest {
  const flex = version >= 4;
  const groupId = r.str(flex);
  const generationId = r.int32();
  const memberId = r.str(flex);
  const groupInstanceId = version >= 3 ? r.nullableStr(flex) : null;
  r.tags(flex);
  return { groupId, generationId, memberId, groupInstanceId };
}
