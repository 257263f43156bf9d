// The live view's figures as Prometheus gauges on the process registry, read at scrape time so
// the hot path (handleBatch, subscribers) never touches prom-client.
import { Gauge, type Registry } from 'prom-client';
import type { LiveStats, LiveView } from '../live/live-view.js';

const GAUGES: Array<[name: string, help: string, pick: (s: LiveStats) => number]> = [
  ['ingest_live_devices', 'Devices with a position in the live view', (s) => s.devices],
  ['ingest_live_subscribers', 'Open live (SSE) streams', (s) => s.subscribers],
  ['ingest_live_slow_subscribers', 'Live streams whose client is not keeping up', (s) => s.slowSubscribers],
  ['ingest_live_accepted_fixes', 'Fixes taken as a device’s newest position since start', (s) => s.accepted],
  [
    'ingest_live_stale_fixes',
    'Fixes ignored as older than the position held (backlog, redelivery)',
    (s) => s.stale,
  ],
  [
    'ingest_live_coalesced_events',
    'Events merged before a slow client took them (open streams)',
    (s) => s.coalesced,
  ],
  ['ingest_live_max_pending_events', 'Most unsent events held for one stream now', (s) => s.maxPending],
];

export function registerLiveMetrics(registry: Registry, live: LiveView): void {
  for (const [name, help, pick] of GAUGES) {
    // A second server on the same registry (tests, restarts in-process) takes the gauges over.
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(live.stats()));
      },
    });
  }
}
