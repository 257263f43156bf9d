// OffsetCommit (key 8): answered only once the offsets are fsync'd (see groups/store.ts), so an
// acknowledged commit survives a broker crash.
import type { GroupApiHandler } from '../../groups/handler.js';
import { ApiKey } from '../apiKeys.js';
import { decodeOffsetCommitRequest, type OffsetCommitRequest } from './request.js';
import { encodeOffsetCommitResponse } from './response.js';

export const offsetCommit: GroupApiHandler<OffsetCommitRequest> = {
  apiKey: ApiKey.OffsetCommit,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 8,
  flexibleFrom: 8,
  decode: decodeOffsetCommitRequest,
  async handle(c, r, version, ctx) {
    const result = await c.commit(r);
    const refused = result.flatMap((t) =>
      t.partitions.filter((p) => p.errorCode !== 0).map((p) => `${t.name}/${p.partition}:${p.errorCode}`),
    );
    if (refused.length > 0) ctx.log.debug({ group: r.groupId, refused }, 'offset commit partly refused');
    return encodeOffsetCommitResponse(result, version);
  },
};
