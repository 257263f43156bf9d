// LeaveGroup (key 13): a member leaving cleanly; the group rebalances without waiting for its
// session to time out.
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { decodeLeaveGroupRequest, type LeaveGroupRequest } from './request.js';
import { encodeLeaveGroupResponse } from './response.js';

export const leaveGroup: GroupApiHandler<LeaveGroupRequest> = {
  apiKey: ApiKey.LeaveGroup,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 4,
  decode: decodeLeaveGroupRequest,
  handle(c, r, version, ctx) {
    for (const m of r.members) {
      if (m.reason) ctx.log.info({ group: r.groupId, member: m.memberId, reason: m.reason }, 'leave reason');
    }
    const members = r.members.map(({ memberId, groupInstanceId }) => ({ memberId, groupInstanceId }));
    return encodeLeaveGroupResponse(c.leave(r.groupId, members), version);
  },
};
