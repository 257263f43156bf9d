// SyncGroup (key 14): the leader delivers the assignment it computed; every member receives its
// own part once the broker has persisted the whole (see groups/coordinator.ts).
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { decodeSyncGroupRequest, type SyncGroupRequest } from './request.js';
import { encodeSyncGroupResponse } from './response.js';

export const syncGroup: GroupApiHandler<SyncGroupRequest> = {
  apiKey: ApiKey.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 4,
  decode: decodeSyncGroupRequest,
  async handle(c, r, version) {
    return encodeSyncGroupResponse(await c.sync(r), version);
  },
};
