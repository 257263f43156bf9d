// DeleteGroups (key 42): removes empty groups and their committed offsets (kafkajs
// admin.deleteGroups). A group with members gets NON_EMPTY_GROUP.
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { type DeleteGroupsRequest, decodeDeleteGroupsRequest } from './request.js';
import { encodeDeleteGroupsResponse } from './response.js';

export const deleteGroups: GroupApiHandler<DeleteGroupsRequest> = {
  apiKey: ApiKey.DeleteGroups,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  decode: decodeDeleteGroupsRequest,
  async handle(c, { groupIds }, version) {
    return encodeDeleteGroupsResponse(await c.deleteGroups(groupIds), version);
  },
};
