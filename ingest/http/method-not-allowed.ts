// A path the server has, asked with a method it does not answer there (POST /api/devices,
// DELETE /healthz): 405 with an Allow header (RFC 9110, 15.5.6), where fastify's not-found
// handler said 404 "no route", telling the client its path was wrong when its method was.
// fastify does not expose its router, so the routes are recorded as they are added (onRoute) and
// a path is matched against their URL patterns: `:param` is one segment, `*` the rest.
import type { FastifyInstance } from 'fastify';

export type AllowedMethods = (path: string) => string[];

/** Call before the routes are registered; the function answers for any path afterwards. */
export function recordAllowedMethods(app: FastifyInstance): AllowedMethods {
  const routes: { pattern: RegExp; methods: readonly string[] }[] = [];
  app.addHook('onRoute', (r) => {
    routes.push({ pattern: urlPattern(r.url), methods: Array.isArray(r.method) ? r.method : [r.method] });
  });
  return (path) => {
    const allowed = new Set<string>();
    for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) allowed.add(m);
    return [...allowed].sort();
  };
}

const urlPattern = (url: string): RegExp =>
  new RegExp(
    `^${url
      .split('/')
      .map((seg) => {
        if (seg === '*') return '.*';
        if (seg.startsWith(':')) return '[^/]+';
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/')}$`,
  );
