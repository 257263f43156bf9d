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

/**
 * Why `share` does not open this device's stream at `nowMs`, in words for the customer holding
 * the link; undefined when it does. The signature is checked before the expiry, so only a link
 * we issued for this device is called expired. A link for another device and a link cut short or
 * changed cannot be told apart without trying every device, so one sentence says both.
 */
export function shareTokenRefusal(
  token: string,
  deviceId: string,
  share: string,
  nowMs: number,
): string | undefined {
  const dot = share.indexOf('.');
  const expires = Number(share.slice(0, dot));
  if (
    dot <= 0 ||
    !/^\d+$/.test(share.slice(0, dot)) ||
    !Number.isSafeInteger(expires) ||
    dot === share.length - 1
  ) {
    return 'this is not a valid share link (it may have been cut short when copied): ask for a new one';
  }
  if (!sameSecret(share.slice(dot + 1), sign(token, deviceId, expires))) {
    return `this share link is not for device ${deviceId}, or was changed or cut short: ask for a new one`;
  }
  if (expires * 1000 <= nowMs) {
    return `this share link expired at ${new Date(expires * 1000).toISOString()}: ask for a new one`;
  }
  return undefined;
}
