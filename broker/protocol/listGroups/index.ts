// ListGroups (key 16): every group this coordinator knows, including ones with only offsets;
// v4+ can ask for groups in given states only (matched case-insensitively, as Kafka does).
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { decodeListGroupsRequest, type ListGroupsRequest } from './request.js';
import { encodeListGroupsResponse } from './response.js';

export const listGroups: GroupApiHandler<ListGroupsRequest> = {
  apiKey: ApiKey.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  decode: decodeListGroupsRequest,
  handle(c, { statesFilter }, version) {
    const wanted = statesFilter && new Set(statesFilter.map((s) => s.toLowerCase()));
    const groups = c.list().filter((g) => !wanted || wanted.has(g.state.toLowerCase()));
    return encodeListGroupsResponse(ErrorCode.NONE, groups, version);
  },
};
