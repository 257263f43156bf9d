// FindCoordinator response v0-v3. v1+ adds throttle time (first) and an error message; v3 flexible.
import { Writer } from '../codec.js';

export interface FindCoordinatorResponse {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export function encodeFindCoordinatorResponse(res: FindCoordinatorResponse, version: number): Writer {
  const flex = version >= 3;
  const w = new Writer(64);
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.int16(res.errorCode);
  if (version >= 1) w.nullableStr(flex, res.errorMessage);
  w.int32(res.nodeId).str(flex, res.host).int32(res.port);
  w.tags(flex);
  return w;
}
