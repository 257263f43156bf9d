// Request URLs go to the logs without secrets: ?token= and ?share= are accepted on a few routes
// (auth.ts, share.ts) and must never be written anywhere.
//
// The query is taken apart as the server reads it, not matched as text: fastify decodes a
// parameter's name before looking at it, so ?to%6Ben=SECRET logs in and a pattern for "token="
// left the token in the log. A value that, decoded, carries a token= or share= pair of its own
// (?x=1%26token=SECRET) is redacted whole, as is anything that cannot be decoded.
const SECRET_NAMES = new Set(['token', 'share']);
const SECRET_INSIDE = /(?:^|[?&;])\s*(?:token|share)\s*=/i;

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

function redactPair(pair: string): string {
  const eq = pair.indexOf('=');
  const rawName = eq < 0 ? pair : pair.slice(0, eq);
  const name = decode(rawName);
  if (eq < 0) return name !== null && SECRET_INSIDE.test(`${name}=`) ? '[redacted]' : pair;
  const value = decode(pair.slice(eq + 1));
  if (name === null || value === null) return `${rawName}=[redacted]`;
  if (SECRET_NAMES.has(name.trim().toLowerCase()) || SECRET_INSIDE.test(value))
    return `${rawName}=[redacted]`;
  return pair;
}

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  // & and ; both separate pairs for some parsers; split on both so neither hides a token.
  return `${url.slice(0, q + 1)}${url
    .slice(q + 1)
    .split(/([&;])/)
    .map((part) => (part === '&' || part === ';' ? part : redactPair(part)))
    .join('')}`;
}
