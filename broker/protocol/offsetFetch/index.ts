// OffsetFetch (key 9): where a group's consumers resume. -1 = nothing committed yet.
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { decodeOffsetFetchRequest } from './request.js';
import { encodeOffsetFetchResponse } from './response.js';

export function offsetFetch(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.OffsetFetch,
    name: 'OffsetFetch',
    minVersion: 0,
    maxVersion: 7,
    flexibleFrom: 6,
    async handle(_ctx, req, version) {
      const r = decodeOffsetFetchRequest(req, version);
      const c = await coordinator();
      return encodeOffsetFetchResponse(c.fetch(r.groupId, r.topics), ErrorCode.NONE, version);
    },
  };
}
