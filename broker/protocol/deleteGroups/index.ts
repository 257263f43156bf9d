// DeleteGroups (key 42): removes empty groups and their committed offsets (kafkajs
// admin.deleteGroups). A group with members gets NON_EMPTY_GROUP.
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { decodeDeleteGroupsRequest } from './request.js';
import { encodeDeleteGroupsResponse } from './response.js';

export function deleteGroups(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.DeleteGroups,
    name: 'DeleteGroups',
    minVersion: 0,
    maxVersion: 2,
    flexibleFrom: 2,
    async handle(_ctx, req, version) {
      const { groupIds } = decodeDeleteGroupsRequest(req, version);
      const c = await coordinator();
      return encodeDeleteGroupsResponse(await c.deleteGroups(groupIds), version);
    },
  };
}
