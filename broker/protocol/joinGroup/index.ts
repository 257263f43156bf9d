// JoinGroup (key 11): parks until the rebalance completes (see groups/coordinator.ts). The
// connection runs one request at a time, so a parked join only holds up its own connection.
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { decodeJoinGroupRequest, type JoinGroupRequest } from './request.js';
import { encodeJoinGroupResponse } from './response.js';

export const joinGroup: GroupApiHandler<JoinGroupRequest> = {
  apiKey: ApiKey.JoinGroup,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: 6,
  decode: decodeJoinGroupRequest,
  async handle(c, { reason, ...r }, version, ctx) {
    if (reason) ctx.log.debug({ group: r.groupId, member: r.memberId, reason }, 'join reason');
    const result = await c.join({
      ...r,
      clientId: ctx.clientId ?? '',
      clientHost: `/${ctx.remoteAddress}`,
      requireKnownMemberId: version >= 4,
    });
    return encodeJoinGroupResponse(result, version);
  },
};
