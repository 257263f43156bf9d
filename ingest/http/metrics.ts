// Metrics feature: GET /metrics in the Prometheus text format (from ingest/metrics.ts's
// registry) and GET /api/stats, the same numbers as JSON for the dashboard.
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { LiveView } from '../live/live-view.js';
import { registerLiveMetrics } from './live-metrics.js';
import { collectStats } from './stats.js';

export interface MetricsOptions {
  registry: Registry;
  live: LiveView;
  now: () => number;
}

export const metricsPlugin: FastifyPluginAsync<MetricsOptions> = async (app, opts) => {
  registerLiveMetrics(opts.registry, opts.live);
  app.get(
    '/metrics',
    { config: { polled: true }, schema: { querystring: { type: 'object', properties: {} } } },
    async (_req, reply) => {
      const text = await opts.registry.metrics();
      return reply.type(opts.registry.contentType).send(text);
    },
  );

  app.get(
    '/api/stats',
    {
      config: { polled: true },
      // Consumer lag and consumed totals per group, DLQ count and live view figures.
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              time: { type: 'integer' },
              dlq: { type: 'number' },
              groups: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    group: { type: 'string' },
                    lag: { type: 'number' },
                    consumed: { type: 'number' },
                    dlq: { type: 'number', description: 'bad records this group saw' },
                  },
                },
              },
              live: {
                type: 'object',
                properties: {
                  devices: { type: 'integer' },
                  subscribers: { type: 'integer' },
                  accepted: { type: 'integer' },
                  stale: { type: 'integer' },
                  coalesced: { type: 'integer' },
                  slowSubscribers: { type: 'integer' },
                  maxPending: { type: 'integer' },
                  maxBufferedBytes: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    },
    async () => collectStats(opts.registry, opts.live.stats(), opts.now()),
  );
};
