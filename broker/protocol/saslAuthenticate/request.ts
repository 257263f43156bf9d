// SaslAuthenticate request v0-v2: one SASL token. v2 is flexible (compact bytes, tagged fields).
import type { Reader } from '../codec.js';

export function decodeSaslAuthenticateRequest(r: Reader, version: number): { authBytes: Buffer } {
  const flex = version >= 2;
  const authBytes = flex ? r.compactBytes() : r.bytes();
  r.tags(flex);
  return { authBytes };
}
