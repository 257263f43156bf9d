// FindCoordinator response v0-v2. v1+ adds throttle time (first) and an error message.
import { Writer } from '../codec.js';

export interface FindCoordinatorResponse {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export function encodeFindCoordinatorResponse(res: FindCoordinatorResponse, version: number): Writer {
  const w = new Writer(64);
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.int16(res.errorCode);
  if (version >= 1) w.nullableString(res.errorMessage);
  w.int32(res.nodeId).string(res.host).int32(res.port);
  return w;
}
