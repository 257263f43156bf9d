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
  /** Metrics of other registries (the store groups' threads) to serve with this one's. */
  more?: readonly (() => Promise<MetricsJson>)[] | undefined;
  live: LiveView;
  now: () => number;
}

/**
 * One registry from the registries of the process's threads. A group's series are kept by the
 * threads running its members, so summing merges counters and histograms (two fix-store members
 * count what each consumed); a gauge that each of them polls says how it merges (the lag: 'max').
 * A metric only one side has (the process's, the live view's) passes as it is.
 */
export function mergeMetrics(sides: MetricsJson[]): Registry {
  const sidesHaving = new Map<string, number>();
  for (const side of sides) for (const m of side) sidesHaving.set(m.name, (sidesHaving.get(m.name) ?? 0) + 1);
  for (const side of sides) for (const m of side) if (sidesHaving.get(m.name) === 1) m.aggregator = 'first';
  return AggregatorRegistry.aggregate(sides);
}

export const metricsPlugin: FastifyPluginAsync<MetricsOptions> = async (app, opts) => {
  registerLiveMetrics(opts.registry, opts.live);
  const more = opts.more ?? [];
  const merged = async (): Promise<Registry> => {
    if (more.length === 0) return opts.registry;
    const sides = await Promise.all([
      opts.registry.getMetricsAsJSON(),
      ...more.map((m) =>
        m().catch((e: Error) => {
          app.log.warn({ err: e }, 'metrics of a store groups thread unavailable');
          return [] as MetricsJson;
        }),
      ),
    ]);
    return mergeMetrics(sides);
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
              lagAgeS: {
                type: ['integer', 'null'],
                description: 'seconds since the lag was last measured (null: never)',
              },
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
