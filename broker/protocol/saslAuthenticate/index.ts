// SaslAuthenticate (key 36), v0-v2: carries one SASL token each way after a v1 SaslHandshake.
// A refused login is SASL_AUTHENTICATION_FAILED with a message that names no user and no reason
// beyond "malformed" (the broker log has both), then the connection is closed.
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { connectionSasl } from '../sasl/session.js';
import { decodeSaslAuthenticateRequest } from './request.js';
import { encodeSaslAuthenticateResponse } from './response.js';

export const saslAuthenticate: ApiHandler = {
  apiKey: ApiKey.SaslAuthenticate,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  async handle(ctx, req, version) {
    const sasl = connectionSasl(ctx);
    const { authBytes } = decodeSaslAuthenticateRequest(req, version);
    const a = await sasl.authenticate(authBytes);
    if (a.close) ctx.closeAfterResponse?.();
    return encodeSaslAuthenticateResponse(a, version);
  },
};
