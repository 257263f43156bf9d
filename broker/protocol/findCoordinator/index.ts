// FindCoordinator (key 10): this single broker coordinates every consumer group. Transactions are
// not supported, so a transactional coordinator lookup says so instead of pointing at a broker
// that would then refuse every transactional request.
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { decodeFindCoordinatorRequest, KeyType } from './request.js';
import { encodeFindCoordinatorResponse } from './response.js';

export const findCoordinator: ApiHandler = {
  apiKey: ApiKey.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  handle(ctx, req, version) {
    const { key, keyType } = decodeFindCoordinatorRequest(req, version);
    const { node } = ctx.broker;
    const fail = (errorCode: number, errorMessage: string) =>
      encodeFindCoordinatorResponse({ errorCode, errorMessage, nodeId: -1, host: '', port: -1 }, version);
    if (keyType === KeyType.TRANSACTION) {
      return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'this broker does not support transactions');
    }
    if (keyType !== KeyType.GROUP)
      return fail(ErrorCode.INVALID_REQUEST, `unknown coordinator key type ${keyType}`);
    if (key === '') return fail(ErrorCode.INVALID_GROUP_ID, 'group id must not be empty');
    return encodeFindCoordinatorResponse(
      {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        nodeId: node.nodeId,
        host: node.host,
        port: node.port,
      },
      version,
    );
  },
};
