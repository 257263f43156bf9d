// DescribeGroups (key 15): state, protocol and members of each group (ops tooling, kcat -L -G).
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { type DescribeGroupsRequest, decodeDescribeGroupsRequest } from './request.js';
import { encodeDescribeGroupsResponse } from './response.js';

export const describeGroups: GroupApiHandler<DescribeGroupsRequest> = {
  apiKey: ApiKey.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 5,
  decode: decodeDescribeGroupsRequest,
  handle(c, r, version) {
    return encodeDescribeGroupsResponse(c.describe(r.groupIds), version);
  },
};
