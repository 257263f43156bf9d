// The live view's figures on the process registry, read at scrape time so the hot path
// (handleBatch, subscribers) never touches prom-client. What the live view only ever adds to
// (fixes accepted, stale, events coalesced) is a counter: Prometheus's rate() and increase()
// take a counter's drop as a restart, while a gauge's drop reads as a negative rate.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LiveStats, LiveView } from '../live/live-view.js';

type Pick = (s: LiveStats) => number;

const GAUGES: Array<[name: string, help: string, pick: Pick]> = [
  ['ingest_live_devices', 'Devices with a position in the live view', (s) => s.devices],
  ['ingest_live_subscribers', 'Open live (SSE) streams', (s) => s.subscribers],
  ['ingest_live_slow_subscribers', 'Live streams whose client is not keeping up', (s) => s.slowSubscribers],
  ['ingest_live_max_pending_events', 'Most unsent events held for one stream now', (s) => s.maxPending],
];

const COUNTERS: Array<[name: string, help: string, pick: Pick]> = [
  ['ingest_live_accepted_fixes_total', 'Fixes taken as a device’s newest position', (s) => s.accepted],
  [
    'ingest_live_stale_fixes_total',
    'Fixes ignored as older than the position held (backlog, redelivery)',
    (s) => s.stale,
  ],
  [
    'ingest_live_coalesced_events_total',
    'Events merged before a slow client took them (open streams)',
    (s) => s.coalesced,
  ],
];

export function registerLiveMetrics(registry: Registry, live: LiveView): void {
  // A second server on the same registry (tests, restarts in-process) takes the metrics over.
  const fresh = (name: string) => {
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
  };
  for (const [name, help, pick] of GAUGES) {
    fresh(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(live.stats()));
      },
    });
  }
  for (const [name, help, pick] of COUNTERS) {
    fresh(name);
    // A counter has no set(): it is brought up to the live view's figure by what was added since.
    let reported = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = pick(live.stats());
        if (now > reported) this.inc(now - reported);
        reported = now;
      },
    });
  }
}
