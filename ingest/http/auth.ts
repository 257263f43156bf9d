// Who may use the API: a bearer token from the environment (INGEST_TOKEN) guards every route
// except those that opt out. Browsers cannot set headers on EventSource or on a typed URL, so:
//   - `Authorization: Bearer <token>` works everywhere (API clients, curl, tests);
//   - the dashboard login (POST /login, or opening /?token=...) sets an HttpOnly, SameSite=Strict
//     cookie holding an HMAC of the token (not the token), accepted everywhere the bearer is;
//   - `?token=<token>` is accepted only on routes marked `auth: 'query'` (the SSE streams and
//     the dashboard page), for clients that can do neither; request logs redact it.
// Every comparison is constant-time over SHA-256 digests, so neither content nor length leaks.
import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';
import type { LoginLimiter } from './login-limit.js';
import { sameSecret } from './secret.js';
import { shareTokenRefusal } from './share.js';

export { sameSecret };

/**
 * Per-route `config.auth`: who may call it. The default is 'bearer'. 'device-stream' is 'query'
 * plus a share token (share.ts) for the device named in the path.
 */
export type AuthMode = 'public' | 'bearer' | 'query' | 'page' | 'device-stream';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** Polled routes (dashboard, scrapers, probes): successful requests are logged at debug. */
    polled?: boolean;
  }
}

export const SESSION_COOKIE = 'ingest_session';
const SESSION_MAX_AGE_S = 12 * 3600;

/** The cookie value: derived from the token, so a leaked cookie does not reveal the API token. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('ingest-dashboard-session-v1').digest('base64url');
}

export function sessionCookie(token: string, secure: boolean): string {
  return (
    `${SESSION_COOKIE}=${sessionValue(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE_S}` +
    (secure ? '; Secure' : '')
  );
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` + (secure ? '; Secure' : '');
}

function cookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function queryToken(req: FastifyRequest): string | undefined {
  const q = req.query as Record<string, unknown> | undefined;
  const t = q?.['token'];
  return typeof t === 'string' ? t : undefined;
}

export function isAuthorized(req: FastifyRequest, token: string, allowQuery: boolean): boolean {
  const h = req.headers.authorization;
  // The scheme is case-insensitive (RFC 7235 section 2.1): "bearer x" is as good as "Bearer x".
  const bearer = h && /^bearer +(.+)$/i.exec(h);
  if (bearer && sameSecret(bearer[1]!.trim(), token)) return true;
  const c = cookie(req, SESSION_COOKIE);
  if (c !== undefined && sameSecret(c, sessionValue(token))) return true;
  const q = allowQuery ? queryToken(req) : undefined;
  return q !== undefined && sameSecret(q, token);
}

/**
 * Adds the check to every route of `app` (call on the root instance before registering routes).
 * It runs in preValidation, after the query string is parsed, so ?token= can be read.
 */
export function installAuth(
  app: FastifyInstance,
  token: string,
  now: () => number = Date.now,
  logins?: LoginLimiter,
): void {
  app.addHook('preValidation', async (req: FastifyRequest, reply: FastifyReply) => {
    const mode: AuthMode = req.routeOptions.config?.auth ?? 'bearer';
    if (mode === 'public') return;
    // Opening the page with ?token= is a login like POST /login, and limited the same way.
    const pageLogin = mode === 'page' && logins !== undefined && queryToken(req) !== undefined;
    if (pageLogin) {
      // A browser: the login page says why, rather than a JSON answer.
      const wait = logins.retryAfterS(req.ip);
      if (wait > 0) return reply.header('retry-after', String(wait)).redirect('/login?error=blocked', 303);
    }
    if (isAuthorized(req, token, mode === 'query' || mode === 'page' || mode === 'device-stream')) {
      if (pageLogin) logins.succeeded(req.ip);
      return;
    }
    if (pageLogin && logins.failed(req.ip)) {
      req.log.warn({ client: req.ip }, 'dashboard login blocked: too many wrong tokens');
    }
    // A customer holding a share link cannot act on "send the bearer token": say what is wrong
    // with the link instead.
    const share = (req.query as Record<string, unknown> | undefined)?.['share'];
    let shareRefused: string | undefined;
    if (typeof share === 'string' && mode === 'device-stream') {
      const id = (req.params as Record<string, unknown> | undefined)?.['id'];
      if (typeof id !== 'string') throw new Error('device-stream route without an :id parameter');
      shareRefused = shareTokenRefusal(token, id, share, now());
      if (shareRefused === undefined) return;
    } else if (typeof share === 'string' && mode === 'query') {
      shareRefused = "a share link opens only its own device's stream, /api/devices/<id>/live";
    }
    if (mode === 'page') return reply.redirect(pageLogin ? '/login?error=token' : '/login', 303);
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="ingest"')
      .send(
        errorBody(
          401,
          shareRefused ??
            'missing or wrong token: send "Authorization: Bearer <INGEST_TOKEN>" (or log in at /login)',
        ),
      );
  });
}
