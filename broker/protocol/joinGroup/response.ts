// JoinGroup response v0-v5. v2+ starts with throttle time; v5+ members carry group_instance_id.
import type { JoinResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeJoinGroupResponse(res: JoinResult, version: number): Writer {
  const w = new Writer(128);
  if (version >= 2) w.int32(0); // throttle_time_ms
  w.int16(res.errorCode)
    .int32(res.generationId)
    .string(res.protocolName ?? '')
    .string(res.leaderId)
    .string(res.memberId);
  w.array(res.members, (w, m) => {
    w.string(m.memberId);
    if (version >= 5) w.nullableString(m.groupInstanceId);
    w.bytes(m.metadata);
  });
  return w;
}
