// Heartbeat (key 12): keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { decodeHeartbeatRequest, type HeartbeatRequest } from './request.js';
import { encodeHeartbeatResponse } from './response.js';

export const heartbeat: GroupApiHandler<HeartbeatRequest> = {
  apiKey: ApiKey.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  decode: decodeHeartbeatRequest,
  handle(c, r, version) {
    return encodeHeartbeatResponse(c.heartbeat(r), version);
  },
};
