// JoinGroup response v0-v9. v2+ starts with throttle time; v5+ members carry group_instance_id;
// v6+ flexible; v7+ adds the protocol type and makes the protocol name nullable; v9+ adds
// skip_assignment (always false: this broker never asks a leader to skip assigning).
import type { JoinResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeJoinGroupResponse(res: JoinResult, version: number): Writer {
  const flex = version >= 6;
  const w = new Writer(128);
  if (version >= 2) w.int32(0); // throttle_time_ms
  w.int16(res.errorCode).int32(res.generationId);
  if (version >= 7) w.nullableStr(flex, res.protocolType).nullableStr(flex, res.protocolName);
  else w.str(flex, res.protocolName ?? '');
  w.str(flex, res.leaderId);
  if (version >= 9) w.bool(false);
  w.str(flex, res.memberId);
  w.arr(flex, res.members, (w, m) => {
    w.str(flex, m.memberId);
    if (version >= 5) w.nullableStr(flex, m.groupInstanceId);
    if (flex) w.compactBytes(m.metadata);
    else w.bytes(m.metadata);
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}
