// SyncGroup (key 14): the leader delivers the assignment it computed; every member receives its
// own part once the broker has persisted the whole (see groups/coordinator.ts).
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { decodeSyncGroupRequest } from './request.js';
import { encodeSyncGroupResponse } from './response.js';

export function syncGroup(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.SyncGroup,
    name: 'SyncGroup',
    minVersion: 0,
    maxVersion: 5,
    flexibleFrom: 4,
    async handle(_ctx, req, version) {
      const r = decodeSyncGroupRequest(req, version);
      const c = await coordinator();
      return encodeSyncGroupResponse(await c.sync(r), version);
    },
  };
}
