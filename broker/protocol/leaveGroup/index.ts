// LeaveGroup (key 13): a member leaving cleanly; the group rebalances without waiting for its
// session to time out.
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { decodeLeaveGroupRequest } from './request.js';
import { encodeLeaveGroupResponse } from './response.js';

export function leaveGroup(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.LeaveGroup,
    name: 'LeaveGroup',
    minVersion: 0,
    maxVersion: 5,
    flexibleFrom: 4,
    async handle(ctx, req, version) {
      const r = decodeLeaveGroupRequest(req, version);
      for (const m of r.members) {
        if (m.reason)
          ctx.log.info({ group: r.groupId, member: m.memberId, reason: m.reason }, 'leave reason');
      }
      const c = await coordinator();
      const members = r.members.map(({ memberId, groupInstanceId }) => ({ memberId, groupInstanceId }));
      return encodeLeaveGroupResponse(c.leave(r.groupId, members), version);
    },
  };
}
