// Share links for the customer watching their rider: a token that opens ONE device's live
// stream until it expires, so the API token never leaves operations. It is
//   <expiry, unix seconds>.<HMAC-SHA256(INGEST_TOKEN, "live-share-v1\n<deviceId>\n<expiry>")>
// Stateless: nothing is stored; rotating INGEST_TOKEN revokes every link.
import { createHmac } from 'node:crypto';
import { sameSecret } from './secret.js';

const sign = (token: string, deviceId: string, expires: number) =>
  createHmac('sha256', token).update(`live-share-v1\n${deviceId}\n${expires}`).digest('base64url');

export function createShareToken(token: string, deviceId: string, expiresSec: number): string {
  return `${expiresSec}.${sign(token, deviceId, expiresSec)}`;
}

/** True when `share` was issued for this device and has not expired at `nowMs`. */
export function checkShareToken(token: string, deviceId: string, share: string, nowMs: number): boolean {
  const dot = share.indexOf('.');
  const expires = Number(share.slice(0, dot));
  if (dot <= 0 || !Number.isSafeInteger(expires) || expires * 1000 <= nowMs) return false;
  return sameSecret(share.slice(dot + 1), sign(token, deviceId, expires));
}
