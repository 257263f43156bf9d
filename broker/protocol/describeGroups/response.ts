// DescribeGroups response v0-v4. v1+ starts with throttle time; v3+ ends each group with its
// authorized operations; v4+ members carry group_instance_id.
import type { DescribedGroup } from '../../groups/types.js';
import { Writer } from '../codec.js';

/** Kafka's "not provided" value: this broker has no ACLs to report. */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export function encodeDescribeGroupsResponse(groups: readonly DescribedGroup[], version: number): Writer {
  const w = new Writer(256);
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.array(groups, (w, g) => {
    w.int16(g.errorCode).string(g.groupId).string(g.state).string(g.protocolType).string(g.protocolName);
    w.array(g.members, (w, m) => {
      w.string(m.memberId);
      if (version >= 4) w.nullableString(m.groupInstanceId);
      w.string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment);
    });
    if (version >= 3) w.int32(AUTHORIZED_OPERATIONS_OMITTED);
  });
  return w;
}
