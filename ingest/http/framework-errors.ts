// Errors fastify's router raises before any route, hook or error handler runs: a path parameter
// over maxParamLength (FST_ERR_MAX_PARAM_LENGTH, 414) and a path whose %-escapes do not decode
// (FST_ERR_BAD_URL, 400). Left to fastify, they answered in another shape with the whole URL in
// the message (a ?token= with it) and never reached the request log, since no onResponse hook
// runs for them. Here they get the API's { statusCode, error, message }, a message that names
// the problem without echoing the URL, and the usual request line with the URL redacted.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';
import { logRequest } from './request-log.js';

/** fastify's default; the server does not change it. */
export const MAX_PARAM_LENGTH = 100;

const ANSWERS: Record<string, { status: number; message: string }> = {
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    message: `a path parameter is longer than ${MAX_PARAM_LENGTH} characters (a device id has 1 to 64)`,
  },
  FST_ERR_BAD_URL: {
    status: 400,
    message: 'the URL path has a %-escape that is not valid UTF-8 (write a literal % as %25)',
  },
};

/** fastify's `frameworkErrors` option. */
export function answerFrameworkError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const known = ANSWERS[err.code];
  const status = known?.status ?? 500;
  // The others (an async route constraint that threw) are ours to look into, not the client's.
  if (!known)
    req.log.error({ err: { code: err.code, message: err.message.slice(0, 200) } }, 'request failed');
  const message = known?.message ?? 'internal error (see the server log)';
  reply.code(status).send(errorBody(status, message));
  logRequest(req, reply, 'info', { code: err.code });
}
