// SyncGroup response v0-v3. v1+ starts with throttle time.
import type { SyncResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeSyncGroupResponse(res: SyncResult, version: number): Writer {
  const w = new Writer(32 + res.assignment.length);
  if (version >= 1) w.int32(0); // throttle_time_ms
  return w.int16(res.errorCode).bytes(res.assignment);
}
