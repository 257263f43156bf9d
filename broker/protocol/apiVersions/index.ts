// ApiVersions (key 18), v0-v3. v3 is flexible (librdkafka sends it first). The response header is
// always v0 (no tagged fields), so a client that sent a version we do not know can still read the
// UNSUPPORTED_VERSION answer and our version list, and retry with one we do (see server/connection.ts).

import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { Writer } from '../codec.js';
import { ErrorCode } from '../errors.js';

export interface ApiRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export function encodeApiVersionsResponse(
  version: number,
  errorCode: number,
  apis: readonly ApiRange[],
): Writer {
  const w = new Writer();
  const flexible = version >= 3;
  w.int16(errorCode);
  w.arr(flexible, apis, (w, a) => {
    w.int16(a.apiKey).int16(a.minVersion).int16(a.maxVersion).tags(flexible);
  });
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.tags(flexible);
  return w;
}

export function apiRanges(apis: ReadonlyMap<number, ApiHandler>): ApiRange[] {
  return [...apis.values()]
    .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

export const apiVersions: ApiHandler = {
  apiKey: ApiKey.ApiVersions,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  handle(ctx, req, version) {
    if (version >= 3) {
      // client_software_name / version: informational only.
      req.compactString();
      req.compactString();
      req.taggedFields();
    }
    return encodeApiVersionsResponse(version, ErrorCode.NONE, apiRanges(ctx.broker.apis));
  },
};
