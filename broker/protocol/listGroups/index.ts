// ListGroups (key 16): every group this coordinator knows, including ones with only offsets.
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { encodeListGroupsResponse } from './response.js';

export function listGroups(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.ListGroups,
    name: 'ListGroups',
    minVersion: 0,
    maxVersion: 2,
    async handle(_ctx, _req, version) {
      const c = await coordinator();
      return encodeListGroupsResponse(ErrorCode.NONE, c.list(), version);
    },
  };
}
