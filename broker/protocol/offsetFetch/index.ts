// OffsetFetch (key 9): where a group's consumers resume. -1 = nothing committed yet.
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { decodeOffsetFetchRequest, type OffsetFetchRequest } from './request.js';
import { encodeOffsetFetchResponse } from './response.js';

export const offsetFetch: GroupApiHandler<OffsetFetchRequest> = {
  apiKey: ApiKey.OffsetFetch,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 7,
  flexibleFrom: 6,
  decode: decodeOffsetFetchRequest,
  handle(c, r, version) {
    return encodeOffsetFetchResponse(c.fetch(r.groupId, r.topics), ErrorCode.NONE, version);
  },
};
