// The one line each request leaves in the log, from the onResponse hook (server.ts) and from the
// router's own errors, which no hook sees (framework-errors.ts). The URL is redacted (redact.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { redactUrl } from './redact.js';

export function logRequest(
  req: FastifyRequest,
  reply: FastifyReply,
  level: 'info' | 'debug',
  extra: Record<string, unknown> = {},
): void {
  req.log[level](
    {
      method: req.method,
      url: redactUrl(req.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      ...extra,
    },
    'request',
  );
}
