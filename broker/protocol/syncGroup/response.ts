// SyncGroup response v0-v5. v1+ starts with throttle time; v4+ flexible; v5+ adds the group's
// protocol type and name before the assignment.
import type { SyncResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeSyncGroupResponse(res: SyncResult, version: number): Writer {
  const flex = version >= 4;
  const w = new Writer(32 + res.assignment.length);
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.int16(res.errorCode);
  if (version >= 5) w.nullableStr(flex, res.protocolType ?? null).nullableStr(flex, res.protocolName ?? null);
  if (flex) w.compactBytes(res.assignment);
  else w.bytes(res.assignment);
  w.tags(flex);
  return w;
}
