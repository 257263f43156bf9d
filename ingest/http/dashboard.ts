// Dashboard feature: the ops page (GET /), its static files (GET /dashboard/*) and the login.
// The page works offline: everything it needs is in ingest/dashboard/ and served from here; a
// map tile server is optional (INGEST_MAP_TILE_URL), without one the page draws a lat/lon grid.
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { clearedSessionCookie, queryToken, sameSecret, sessionCookie } from './auth.js';
import { errorBody } from './errors.js';
import type { LoginLimiter } from './login-limit.js';
import { noQuery, objectOf, str } from './schemas.js';

export interface DashboardOptions {
  token: string;
  offlineAfterMs: number;
  /** e.g. https://tile.example/{z}/{x}/{y}.png; absent = grid only. */
  tileUrl?: string;
  /** The dead-letter topic's name (from KAFKA_TOPIC), for the page's DLQ label. */
  dlqTopic?: string;
  /** Mark the session cookie Secure (set when the server is reached over HTTPS). */
  cookieSecure: boolean;
  /** Failed logins per client address (shared with the /?token= check in auth.ts). */
  logins: LoginLimiter;
}

const ASSET_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));

/** Where index.html takes the page config (kept valid JSON so the file lints as it is). */
const CONFIG_PLACEHOLDER = '{"placeholder": "__CONFIG__"}';
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Every servable file, read once at start: no path from a request ever reaches the filesystem. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(ASSET_DIR)) {
    const type = TYPES[extname(name)];
    if (type) out.set(name, { type, body: readFileSync(join(ASSET_DIR, name)) });
  }
  return out;
}

function securityHeaders(reply: FastifyReply, tiles: boolean): FastifyReply {
  return (
    reply
      .header(
        'content-security-policy',
        `default-src 'self'; img-src 'self' data:${tiles ? ' https: http:' : ''}; ` +
          "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
      )
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      // The page may have been opened with ?token=; never send its URL anywhere.
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
  );
}

export const dashboardPlugin: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  const assets = loadAssets();
  const asset = (name: string) => {
    const a = assets.get(name);
    if (!a) throw new Error(`dashboard asset ${name} is missing from ${ASSET_DIR}`);
    return a;
  };
  const config = JSON.stringify({
    offlineAfterS: opts.offlineAfterMs / 1000,
    tileUrl: opts.tileUrl ?? null,
    dlqTopic: opts.dlqTopic ?? null,
  });
  // JSON inside <script type="application/json">: escape '<' so no value can close the tag.
  if (!asset('index.html').body.includes(CONFIG_PLACEHOLDER)) {
    throw new Error(`dashboard index.html lacks the config placeholder ${CONFIG_PLACEHOLDER}`);
  }
  const index = asset('index.html')
    .body.toString('utf8')
    .replace(CONFIG_PLACEHOLDER, config.replaceAll('<', '\\u003c'));
  const login = asset('login.html').body.toString('utf8');

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  app.get(
    '/',
    {
      config: { auth: 'page' },
      // The ops dashboard. Opening /?token=... logs in and redirects to a clean URL.
      schema: {
        querystring: objectOf({ token: str }),
      },
    },
    async (req, reply) => {
      if (queryToken(req) !== undefined) {
        // The auth hook accepted the token; swap it for the cookie and drop it from the address bar.
        return securityHeaders(reply, false)
          .header('set-cookie', sessionCookie(opts.token, opts.cookieSecure))
          .redirect('/', 303);
      }
      return securityHeaders(reply, !!opts.tileUrl).type(TYPES['.html']!).send(index);
    },
  );

  // ?error= is where a wrong /?token= was sent: the page says what went wrong (fixed texts only,
  // nothing from the request is put into the page).
  const loginErrors: Record<string, string> = {
    token: 'That token is not valid.',
    blocked: 'Too many wrong tokens from this address. Try again in a minute.',
  };
  app.get(
    '/login',
    {
      config: { auth: 'public' },
      schema: {
        querystring: objectOf({
          error: { type: 'string', enum: Object.keys(loginErrors), description: 'token or blocked' },
        }),
      },
    },
    (req, reply) => {
      const error = loginErrors[(req.query as { error?: string }).error ?? ''];
      return securityHeaders(reply, false)
        .type(TYPES['.html']!)
        .send(login.replace('__ERROR__', error ? `<p class="error" role="alert">${error}</p>` : ''));
    },
  );

  app.post(
    '/login',
    {
      config: { auth: 'public' },
      // Checks the token from the form and sets the session cookie.
      schema: {
        body: {
          type: 'object',
          required: ['token'],
          properties: { token: { type: 'string', maxLength: 1024, description: 'the INGEST_TOKEN' } },
        },
      },
    },
    async (req, reply) => {
      const loginPage = (status: number, error: string) =>
        securityHeaders(reply, false)
          .code(status)
          .type(TYPES['.html']!)
          .send(login.replace('__ERROR__', `<p class="error" role="alert">${error}</p>`));
      // Checked before the token: while blocked, a right token gets the same answer as a wrong one.
      const wait = opts.logins.retryAfterS(req.ip);
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        return loginPage(429, `Too many wrong tokens from this address. Try again in ${wait} s.`);
      }
      const { token } = req.body as { token: string };
      if (!sameSecret(token, opts.token)) {
        const blocked = opts.logins.failed(req.ip);
        req.log.warn({ client: req.ip, blocked }, 'dashboard login with a wrong token');
        return loginPage(401, 'That token is not valid.');
      }
      opts.logins.succeeded(req.ip);
      return securityHeaders(reply, false)
        .header('set-cookie', sessionCookie(opts.token, opts.cookieSecure))
        .redirect('/', 303);
    },
  );

  // The login page's stylesheet is public (the page is shown before there is a session).
  app.get('/login.css', { config: { auth: 'public' }, schema: { querystring: noQuery } }, (_req, reply) =>
    securityHeaders(reply, false).type(TYPES['.css']!).send(asset('login.css').body),
  );

  app.post('/logout', { config: { auth: 'public' }, schema: { querystring: noQuery } }, async (_req, reply) =>
    reply.header('set-cookie', clearedSessionCookie(opts.cookieSecure)).redirect('/login', 303),
  );

  app.get(
    '/dashboard/:file',
    {
      // Static files of the dashboard page.
      schema: {
        params: objectOf({
          file: { type: 'string', pattern: '^[a-z0-9-]+\\.(js|css|svg)$', description: 'a file name' },
        }),
      },
    },
    async (req, reply) => {
      const { file } = req.params as { file: string };
      const a = assets.get(file);
      if (!a) return reply.code(404).send(errorBody(404, `no file ${file}`));
      return securityHeaders(reply, false).type(a.type).send(a.body);
    },
  );
};
