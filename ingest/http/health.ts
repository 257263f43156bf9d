// /healthz: ready only when every dependency answers (Kafka, the database). The checks are
// callbacks given by the caller, so this file knows nothing about how to reach them. Public:
// load balancers and systemd watchdogs have no token.
// Probes come every few seconds, so the log says when readiness changes, not on every probe: one
// line when it is lost (warn) or not reached yet at start-up (info), one when the failing checks
// change, one when it is back; the probes in between log at debug.
import type { FastifyPluginAsync } from 'fastify';
import { objectOf, str } from './schemas.js';

/** A check resolves when the dependency answered and rejects (or times out) when it did not. */
export type HealthCheck = () => Promise<unknown>;

export interface HealthOptions {
  checks: Record<string, HealthCheck>;
  timeoutMs: number;
}

async function run(check: HealthCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(check), timeout]);
    return 'ok';
  } catch (e) {
    return `error: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** The same body whether ready or not: `checks` names each dependency's answer. */
const healthSchema = objectOf({ status: str, checks: { type: 'object', additionalProperties: str } });

export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  /**
   * failing: the names of the checks that failed on the last probe (null: none, or no probe yet).
   * since: when readiness was last lost (or the start): not reset when the failing checks change.
   */
  const state = { failing: null as string | null, since: Date.now(), everReady: false };
  app.get(
    '/healthz',
    {
      config: { auth: 'public', polled: true },
      // Ready (200) when every dependency answers; 503 naming the one that does not.
      schema: { response: { '2xx': healthSchema, '5xx': healthSchema } },
    },
    async (_req, reply) => {
      const names = Object.keys(opts.checks);
      const results = await Promise.all(names.map((n) => run(opts.checks[n]!, opts.timeoutMs)));
      const checks = Object.fromEntries(names.map((n, i) => [n, results[i]!]));
      const ok = results.every((r) => r === 'ok');
      const failing = ok ? null : names.filter((_n, i) => results[i] !== 'ok').join(',');
      if (failing === state.failing) {
        if (!ok) reply.request.quietLog = true;
      } else if (failing === null) {
        reply.log.info({ checks, notReadyMs: Date.now() - state.since }, 'ready');
      } else if (state.everReady) {
        reply.log.warn({ checks }, 'not ready');
      } else {
        reply.log.info({ checks }, 'not ready yet');
      }
      if (failing !== null && state.failing === null && state.everReady) state.since = Date.now();
      state.failing = failing;
      if (ok) state.everReady = true;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
    },
  );
};
