// SaslHandshake request v0-v1 (never flexible): the mechanism the client wants.
import type { Reader } from '../codec.js';

export function decodeSaslHandshakeRequest(r: Reader): { mechanism: string } {
  return { mechanism: r.string() };
}
