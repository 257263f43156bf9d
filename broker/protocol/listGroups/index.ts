// ListGroups (key 16): every group this coordinator knows, including ones with only offsets;
// v4+ can ask for groups in given states only (matched case-insensitively, as Kafka does).
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { decodeListGroupsRequest } from './request.js';
import { encodeListGroupsResponse } from './response.js';

export function listGroups(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.ListGroups,
    name: 'ListGroups',
    minVersion: 0,
    maxVersion: 4,
    flexibleFrom: 3,
    async handle(_ctx, req, version) {
      const { statesFilter } = decodeListGroupsRequest(req, version);
      const c = await coordinator();
      const wanted = statesFilter && new Set(statesFilter.map((s) => s.toLowerCase()));
      const groups = c.list().filter((g) => !wanted || wanted.has(g.state.toLowerCase()));
      return encodeListGroupsResponse(ErrorCode.NONE, groups, version);
    },
  };
}
