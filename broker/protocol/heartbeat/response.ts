// Heartbeat response v0-v4. v1+ starts with throttle time; v4 flexible.
import { Writer } from '../codec.js';

export function encodeHeartbeatResponse(errorCode: number, version: number): Writer {
  const w = new Writer(8);
  if (version >= 1) w.int32(0); // throttle_time_ms
  return w.int16(errorCode).tags(version >= 4);
}
