// Error replies in one shape: { statusCode, error, message }. Validation failures name the
// part of the request (querystring, params, body), the field, and what the field should be.
import type { FastifyError, FastifyInstance } from 'fastify';
import { recordAllowedMethods } from './method-not-allowed.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
  parentSchema?: { description?: string };
}

/** Used as fastify's schemaErrorFormatter; needs ajv's `verbose` so parentSchema is present. */
export function formatSchemaErrors(errors: AjvError[], dataVar: string): Error {
  const parts = errors.map((e) => {
    if (e.keyword === 'required') return `${dataVar} needs ${String(e.params['missingProperty'])}`;
    if (e.keyword === 'additionalProperties') {
      return `${dataVar} has an unknown field ${String(e.params['additionalProperty'])}`;
    }
    const field = `${dataVar}${e.instancePath.replaceAll('/', '.')}`;
    const expected = e.parentSchema?.description;
    return expected ? `${field} must be ${expected}` : `${field} ${e.message ?? 'is invalid'}`;
  });
  return new Error([...new Set(parts)].join('; '));
}

/** Call before the routes are registered (a wrong method is told from a wrong path by them). */
export function installErrorHandler(app: FastifyInstance): void {
  const allowedMethods = recordAllowedMethods(app);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    const message = status >= 500 ? 'internal error (see the server log)' : err.message;
    return reply.code(status).send(errorBody(status, message));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const allowed = allowedMethods(path);
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send(errorBody(405, `${path} answers ${allowed.join(', ')}, not ${req.method}`));
    }
    return reply.code(404).send(errorBody(404, `no route ${req.method} ${path}`));
  });
}

const PARTS = [
  ['querystring', 'query'],
  ['params', 'params'],
  ['body', 'body'],
] as const;

/**
 * ajv coerces "Infinity" and "1e400" to a number and then skips minimum/maximum for it (its range
 * checks are guarded by isFinite), so a schema alone lets them through to the handlers (a 500 from
 * SQLite, an invalid Date). After validation, any non-finite number in a request is refused here,
 * with the field's own description when it has one. JSON bodies too: JSON.parse('1e400') is
 * Infinity.
 */
export function refuseNonFiniteNumbers(app: FastifyInstance): void {
  app.addHook('preHandler', async (req) => {
    for (const [part, key] of PARTS) {
      const bad = nonFinite(req[key], '');
      if (bad === undefined) continue;
      const schema = req.routeOptions.schema?.[part] as
        | { properties?: Record<string, Described> }
        | undefined;
      const top = bad.split('.')[1] ?? '';
      const expected = schema?.properties?.[top]?.description ?? 'a finite number';
      throw badRequest(`${part}${bad} must be ${expected}`);
    }
  });
}

interface Described {
  description?: string;
}

/** The path (".a.b") of the first non-finite number in a value, if any. */
function nonFinite(v: unknown, path: string): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : path;
  if (v === null || typeof v !== 'object') return undefined;
  for (const [k, x] of Object.entries(v)) {
    const found = nonFinite(x, `${path}.${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * A query parameter given twice (from=1&from=2) reaches the schema as an array, and was refused
 * as if its value were malformed ("must be ... milliseconds since 1970 ..."). No route takes a
 * repeated parameter: say that it is repeated.
 */
export function refuseRepeatedQueryParams(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const query = req.query as Record<string, unknown> | undefined;
    for (const [name, value] of Object.entries(query ?? {})) {
      if (Array.isArray(value))
        throw badRequest(`querystring.${name} is given ${value.length} times: give it once`);
    }
  });
}

/** A 400 with our message, for checks the schema cannot express (impossible dates, from > to). */
export function badRequest(message: string): FastifyError {
  return withStatus(400, message);
}

/** A 404 with our message: the route exists, the thing asked for does not. */
export function notFound(message: string): FastifyError {
  return withStatus(404, message);
}

function withStatus(status: number, message: string): FastifyError {
  const e = new Error(message) as FastifyError;
  e.statusCode = status;
  return e;
}

/** Every error reply's body (errorSchema): the status, its name and what went wrong. */
export function errorBody(
  status: number,
  message: string,
): { statusCode: number; error: string; message: string } {
  return { statusCode: status, error: httpError(status), message };
}

export function httpError(status: number): string {
  const names: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    404: 'Not Found',
    405: 'Method Not Allowed',
    413: 'Payload Too Large',
    414: 'URI Too Long',
    415: 'Unsupported Media Type',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
  };
  return names[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
}
