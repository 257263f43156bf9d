// OffsetCommit (key 8): answered only once the offsets are fsync'd (see groups/store.ts), so an
// acknowledged commit survives a broker crash.
import type { GroupCoordinator } from '../../groups/coordinator.js';
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { decodeOffsetCommitRequest } from './request.js';
import { encodeOffsetCommitResponse } from './response.js';

export function offsetCommit(coordinator: () => Promise<GroupCoordinator>): ApiHandler {
  return {
    apiKey: ApiKey.OffsetCommit,
    name: 'OffsetCommit',
    minVersion: 0,
    maxVersion: 8,
    flexibleFrom: 8,
    async handle(ctx, req, version) {
      const r = decodeOffsetCommitRequest(req, version);
      const c = await coordinator();
      const result = await c.commit(r);
      const refused = result.flatMap((t) =>
        t.partitions.filter((p) => p.errorCode !== 0).map((p) => `${t.name}/${p.partition}:${p.errorCode}`),
      );
      if (refused.length > 0) ctx.log.debug({ group: r.groupId, refused }, 'offset commit partly refused');
      return encodeOffsetCommitResponse(result, version);
    },
  };
}
