// Request URLs go to the logs without the token: ?token= is accepted on a few routes (see
// auth.ts) and must never be written anywhere.

export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}
