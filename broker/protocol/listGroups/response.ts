// ListGroups response v0-v2 (the request has no fields). v1+ starts with throttle time.
import { Writer } from '../codec.js';

export function encodeListGroupsResponse(
  errorCode: number,
  groups: readonly { groupId: string; protocolType: string }[],
  version: number,
): Writer {
  const w = new Writer(128);
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.int16(errorCode);
  w.array(groups, (w, g) => {
    w.string(g.groupId).string(g.protocolType);
  });
  return w;
}
