// JoinGroup request v0-v9. v1+ adds the rebalance timeout (v0 uses the session timeout for it);
// v4+ means the client handles MEMBER_ID_REQUIRED; v5+ adds group_instance_id (static membership);
// v6+ flexible; v8+ adds a free-text reason (logged, not acted on).
import type { Reader } from '../codec.js';

export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  reason: string | null;
}

export function decodeJoinGroupRequest(r: Reader, version: number): JoinGroupRequest {
  const flex = version >= 6;
  const groupId = r.str(flex);
  const sessionTimeoutMs = r.int32();
  const rebalanceTimeoutMs = version >= 1 ? r.int32() : sessionTimeoutMs;
  const memberId = r.str(flex);
  const groupInstanceId = version >= 5 ? r.nullableStr(flex) : null;
  const protocolType = r.str(flex);
  // Copies: the request buffer is reused by the connection, the group keeps metadata for its life.
  const protocols = r.arr(flex, (r) => {
    const name = r.str(flex);
    const metadata = Buffer.from(flex ? r.compactBytes() : r.bytes());
    r.tags(flex);
    return { name, metadata };
  });
  const reason = version >= 8 ? r.nullableStr(flex) : null;
  r.tags(flex);
  return {
    groupId,
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    memberId,
    groupInstanceId,
    protocolType,
    protocols,
    reason,
  };
}
