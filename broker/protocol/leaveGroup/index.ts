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
    maxVersion: 3,
    async handle(_ctx, req, version) {
      const r = decodeLeaveGroupRequest(req, version);
      const c = await coordinator();
      return encodeLeaveGroupResponse(c.leave(r.groupId, r.members), version);
    },
  };
}
