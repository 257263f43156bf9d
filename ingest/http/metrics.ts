// Metrics feature: GET /metrics in the Prometheus text format (from ingest/metrics.ts's
// registry) and GET /api/stats, the same numbers as JSON for the dashboard.
import type { FastifyPluginAsync } from 'fastify';
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';
import type { LiveView } from '../live/live-view.js';
import { registerLiveMetrics } from './live-metrics.js';
import { arrayOf, int, noQuery, num, objectOf, replies, str } from './schemas.js';
import { collectStats } from './stats.js';

/** A registry's metrics as getMetricsAsJSON() gives them (they cross threads this way). */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export interface MetricsOptions {
  registry: Registry;
  /** Metrics of another registry (the store groups' thread) to serve with this one's. */
  more?: (() => Promise<MetricsJson>) | undefined;
  live: LiveView;
  now: () => number;
}

export const metricsPlugin: FastifyPluginAsync<MetricsOptions> = async (app, opts) => {
  registerLiveMetrics(opts.registry, opts.live);
  // Each series is kept by one side (a group's by the thread that runs it), so summing merges the
  // ingest's metrics; a metric only one side has (the process's, the live view's) passes as it is.
  const more = opts.more;
  const merged = async (): Promise<Registry> => {
    if (!more) return opts.registry;
    const [here, there] = await Promise.all([
      opts.registry.getMetricsAsJSON(),
      more().catch((e: Error) => {
        app.log.warn({ err: e }, 'metrics of the store groups thread unavailable');
        return [] as MetricsJson;
      }),
    ]);
    const hereNames = new Set(here.map((m) => m.name));
    const thereNames = new Set(there.map((m) => m.name));
    for (const m of here) if (!thereNames.has(m.name)) m.aggregator = 'first';
    for (const m of there) if (!hereNames.has(m.name)) m.aggregator = 'first';
    return AggregatorRegistry.aggregate([here, there]);
  };
  app.get('/metrics', { config: { polled: true }, schema: { querystring: noQuery } }, async (_req, reply) => {
    const text = await (await merged()).metrics();
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
    async () => collectStats(await merged(), opts.live.stats(), opts.now()),
  );
};
