// The shape every consumer group API handler shares (broker/protocol/<groupApi>/index.ts): decode
// the request, then act on the coordinator. bindCoordinator turns one into an ApiHandler and is
// the one place that decides how a group request meets the coordinator: the body is decoded
// first (malformed input closes the connection at once), then the request waits for the
// coordinator to finish loading its state (see apis.ts) and runs.
import type { Reader } from '../protocol/codec.js';
import type { ApiHandler, ApiResponse, RequestContext } from '../server/api.js';
import type { GroupCoordinator } from './coordinator.js';

export interface GroupApiHandler<Request> extends Omit<ApiHandler, 'handle'> {
  decode(req: Reader, version: number): Request;
  handle(
    coordinator: GroupCoordinator,
    request: Request,
    version: number,
    ctx: RequestContext,
  ): Promise<ApiResponse> | ApiResponse;
}

export function bindCoordinator<Request>(
  api: GroupApiHandler<Request>,
  coordinator: () => Promise<GroupCoordinator>,
): ApiHandler {
  const { decode, handle, ...meta } = api;
  return {
    ...meta,
    async handle(ctx, req, version) {
      const request = decode(req, version);
      return handle(await coordinator(), request, version, ctx);
    },
  };
}
