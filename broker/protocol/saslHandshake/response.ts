// SaslHandshake response v0-v1: error code and the mechanisms this listener enables (sent with
// every answer, so a client that asked for another one can say which are on offer).
import { Writer } from '../codec.js';

export function encodeSaslHandshakeResponse(errorCode: number, mechanisms: readonly string[]): Writer {
  const w = new Writer(64);
  w.int16(errorCode);
  return w.array(mechanisms, (w, m) => w.string(m));
}
