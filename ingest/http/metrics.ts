// Metrics feature: GET /metrics in the Prometheus text format (from ingest/metrics.ts's
// registry) and GET /api/stats, the same numbers as JSON for the dashboard.
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { LiveView } from '../live/live-view.js';
import { registerLiveMetrics } from './live-metrics.js';
import { arrayOf, int, noQuery, num, objectOf, replies, str } from './schemas.js';
import { collectStats } from './stats.js';

export interface MetricsOptions {
  registry: Registry;
  live: LiveView;
  now: () => number;
}

export const metricsPlugin: FastifyPluginAsync<MetricsOptions> = async (app, opts) => {
  registerLiveMetrics(opts.registry, opts.live);
  app.get('/metrics', { config: { polled: true }, schema: { querystring: noQuery } }, async (_req, reply) => {
    const text = await opts.registry.metrics();
    return reply.type(opts.registry.contentType).send(text);
  });

  app.get(
    '/api/stats',
    {
      config: { polled: true },
      // Consumer lag and consumed totals per group, DLQ count and live view figures.
      schema: {
        response: replies({
          time: int,
          dlq: num,
          groups: arrayOf(
            objectOf({
              group: str,
              lag: num,
              consumed: num,
              dlq: { type: 'number', description: 'bad records this group saw' },
            }),
          ),
          live: objectOf({
            devices: int,
            subscribers: int,
            accepted: int,
            stale: int,
            coalesced: int,
            slowSubscribers: int,
            maxPending: int,
            maxBufferedBytes: int,
          }),
        }),
      },
    },
    async () => collectStats(opts.registry, opts.live.stats(), opts.now()),
  );
};
