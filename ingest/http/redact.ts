// Request URLs go to the logs without secrets: ?token= and ?share= are accepted on a few routes
// (auth.ts, share.ts) and must never be written anywhere.

export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|share)=)[^&#]*/gi, '$1[redacted]');
}
