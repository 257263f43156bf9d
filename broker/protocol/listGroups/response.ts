// ListGroups response v0-v4. v1+ starts with throttle time; v3+ flexible; v4+ each group's state.
import { Writer } from '../codec.js';

export function encodeListGroupsResponse(
  errorCode: number,
  groups: readonly { groupId: string; protocolType: string; state: string }[],
  version: number,
): Writer {
  const flex = version >= 3;
  const w = new Writer(128);
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.int16(errorCode);
  w.arr(flex, groups, (w, g) => {
    w.str(flex, g.groupId).str(flex, g.protocolType);
    if (version >= 4) w.str(flex, g.state);
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}
