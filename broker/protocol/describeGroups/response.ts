// DescribeGroups response v0-v5. v1+ starts with throttle time; v3+ ends each group with its
// authorized operations; v4+ members carry group_instance_id; v5 flexible.
import type { DescribedGroup } from '../../groups/types.js';
import { Writer } from '../codec.js';

/** Kafka's "not provided" value: this broker has no ACLs to report. */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export function encodeDescribeGroupsResponse(groups: readonly DescribedGroup[], version: number): Writer {
  const flex = version >= 5;
  const bytes = (w: Writer, b: Buffer) => (flex ? w.compactBytes(b) : w.bytes(b));
  const w = new Writer(256);
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.arr(flex, groups, (w, g) => {
    w.int16(g.errorCode)
      .str(flex, g.groupId)
      .str(flex, g.state)
      .str(flex, g.protocolType)
      .str(flex, g.protocolName);
    w.arr(flex, g.members, (w, m) => {
      w.str(flex, m.memberId);
      if (version >= 4) w.nullableStr(flex, m.groupInstanceId);
      w.str(flex, m.clientId).str(flex, m.clientHost);
      bytes(w, m.metadata);
      bytes(w, m.assignment);
      w.tags(flex);
    });
    if (version >= 3) w.int32(AUTHORIZED_OPERATIONS_OMITTED);
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}
