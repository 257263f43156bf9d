// DescribeGroups (key 15): state, protocol and members of each group (ops tooling, kcat -L -G).
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { decodeDescribeGroupsRequest } from './request.js';
import { encodeDescribeGroupsResponse } from './response.js';

export function describeGroups(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.DescribeGroups,
    name: 'DescribeGroups',
    minVersion: 0,
    maxVersion: 5,
    flexibleFrom: 5,
    async handle(_ctx, req, version) {
      const r = decodeDescribeGroupsRequest(req, version);
      const c = await coordinator();
      return encodeDescribeGroupsResponse(c.describe(r.groupIds), version);
    },
  };
}
