// The HTTP server's environment variables (validated with shared/config.ts). ingest/main.ts
// merges this spec into its own and turns the values into ServerDeps with httpOptions().
import { type Config, env, required } from '../../shared/config.js';

export const httpSpec = {
  INGEST_TOKEN: env.string({
    description: 'bearer token for the HTTP API and the dashboard login',
    secret: true,
    pattern: /^\S{16,}$/,
    patternWords: 'at least 16 characters without spaces (e.g. `openssl rand -hex 32`)',
  }),
  INGEST_HTTP_HOST: env.string({ description: 'address the HTTP server listens on', default: '127.0.0.1' }),
  INGEST_HTTP_PORT: env.int({
    description: 'HTTP port (0 = any free port)',
    default: 8080,
    min: 0,
    max: 65535,
  }),
  INGEST_OFFLINE_AFTER_S: env.int({
    description: 'a device is shown offline after this many seconds without a fix',
    default: 120,
    min: 1,
    max: 7 * 86400,
  }),
  INGEST_MAP_TILE_URL: env.string({
    description: 'optional map tile URL template for the dashboard; unset = grid only (works offline)',
    pattern: /^https?:\/\/\S*\{z\}\S*\{x\}\S*\{y\}\S*$/,
    patternWords: 'an http(s) URL with {z}, {x} and {y}',
  }),
  INGEST_COOKIE_SECURE: env.bool({
    description: 'mark the dashboard session cookie Secure (when served over HTTPS)',
    default: false,
  }),
};

export type HttpSettings = Config<typeof httpSpec>;

/** The parts of ServerDeps and of listen() that come from the environment. */
export function httpOptions(s: HttpSettings) {
  return {
    token: required(s.INGEST_TOKEN, 'INGEST_TOKEN', 'the HTTP API and dashboard need a bearer token'),
    offlineAfterMs: s.INGEST_OFFLINE_AFTER_S * 1000,
    tileUrl: s.INGEST_MAP_TILE_URL,
    cookieSecure: s.INGEST_COOKIE_SECURE,
    listen: { host: s.INGEST_HTTP_HOST, port: s.INGEST_HTTP_PORT },
  };
}
