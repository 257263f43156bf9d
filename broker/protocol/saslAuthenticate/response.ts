// SaslAuthenticate response v0-v2: error code, error message, the server's token; v1+ adds
// session_lifetime_ms (0 here: no re-authentication); v2 is flexible.
import { Writer } from '../codec.js';

export interface SaslAuthenticateResponse {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
}

export function encodeSaslAuthenticateResponse(a: SaslAuthenticateResponse, version: number): Writer {
  const flex = version >= 2;
  const w = new Writer(64 + a.authBytes.length);
  w.int16(a.errorCode).nullableStr(flex, a.errorMessage);
  if (flex) w.compactBytes(a.authBytes);
  else w.bytes(a.authBytes);
  if (version >= 1) w.int64(0); // session_lifetime_ms
  return w.tags(flex);
}
