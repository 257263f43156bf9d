// JoinGroup (key 11): parks until the rebalance completes (see groups/coordinator.ts). The
// connection runs one request at a time, so a parked join only holds up its own connection.
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { decodeJoinGroupRequest } from './request.js';
import { encodeJoinGroupResponse } from './response.js';

export function joinGroup(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.JoinGroup,
    name: 'JoinGroup',
    minVersion: 0,
    maxVersion: 9,
    flexibleFrom: 6,
    async handle(ctx, req, version) {
      const { reason, ...r } = decodeJoinGroupRequest(req, version);
      if (reason) ctx.log.debug({ group: r.groupId, member: r.memberId, reason }, 'join reason');
      const c = await coordinator();
      const result = await c.join({
        ...r,
        clientId: ctx.clientId ?? '',
        clientHost: `/${ctx.remoteAddress}`,
        requireKnownMemberId: version >= 4,
      });
      return encodeJoinGroupResponse(result, version);
    },
  };
}
