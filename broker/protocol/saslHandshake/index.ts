// SaslHandshake (key 17), v0-v1: picks the connection's mechanism. v1 means the tokens follow
// in SaslAuthenticate requests; v0 means they follow as bare size-prefixed frames (the
// connection handles those, see server/connection.ts). The state lives in the connection's
// SaslSession (protocol/sasl/session.ts); an error answer is followed by closing the connection.
import type { ApiHandler } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { connectionSasl } from '../sasl/session.js';
import { decodeSaslHandshakeRequest } from './request.js';
import { encodeSaslHandshakeResponse } from './response.js';

export const saslHandshake: ApiHandler = {
  apiKey: ApiKey.SaslHandshake,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,
  handle(ctx, req, version) {
    const sasl = connectionSasl(ctx);
    const { mechanism } = decodeSaslHandshakeRequest(req);
    const a = sasl.handshake(mechanism, version);
    if (a.close) ctx.closeAfterResponse?.();
    return encodeSaslHandshakeResponse(a.errorCode, a.mechanisms);
  },
};
