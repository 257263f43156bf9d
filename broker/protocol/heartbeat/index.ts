// Heartbeat (key 12): keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { decodeHeartbeatRequest } from './request.js';
import { encodeHeartbeatResponse } from './response.js';

export function heartbeat(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.Heartbeat,
    name: 'Heartbeat',
    minVersion: 0,
    maxVersion: 4,
    flexibleFrom: 4,
    async handle(_ctx, req, version) {
      const r = decodeHeartbeatRequest(req, version);
      const c = await coordinator();
      return encodeHeartbeatResponse(c.heartbeat(r), version);
    },
  };
}
