// The dashboard's numbers, summarised from the Prometheus registry so the page and /metrics
// can never disagree: consumer lag and consumed totals per group, and the dead-letter count.
// Metrics are found by what they are (a name containing "lag" with a group label, ...), so a
// renamed metric in ingest/metrics.ts still shows up rather than silently reading as zero.
import type { Registry } from 'prom-client';
import type { LiveStats } from '../live/live-view.js';

export interface GroupStats {
  group: string;
  /** Sum over partitions of (log end offset - committed offset). */
  lag: number;
  /** Fixes this group consumed since the process started (the page derives throughput). */
  consumed: number;
  /** Bad records this group saw (every group sees each one; one group publishes it). */
  dlq: number;
  /**
   * Seconds since `lag` was last measured (null: never): the gauge keeps its last value while the
   * broker does not answer, so an old one is a figure the page must not show as current.
   */
  lagAgeS: number | null;
}

export interface Stats {
  time: number;
  groups: GroupStats[];
  dlq: number;
  live: LiveStats;
}

interface MetricJson {
  name: string;
  type: string;
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}

const isLagUpdated = (m: MetricJson) => m.type === 'gauge' && /lag_updated/.test(m.name);
const isLag = (m: MetricJson) => m.type === 'gauge' && /lag/.test(m.name) && !isLagUpdated(m);
const isConsumed = (m: MetricJson) => m.type === 'counter' && /consumed/.test(m.name);
const isDlq = (m: MetricJson) => /dlq|dead_letter/.test(m.name) && m.type === 'counter';

export async function collectStats(registry: Registry, live: LiveStats, now: number): Promise<Stats> {
  const metrics = (await registry.getMetricsAsJSON()) as unknown as MetricJson[];
  const groups = new Map<string, GroupStats>();
  const group = (name: string) => {
    let g = groups.get(name);
    if (!g) {
      g = { group: name, lag: 0, consumed: 0, dlq: 0, lagAgeS: null };
      groups.set(name, g);
    }
    return g;
  };
  let ungroupedDlq = 0;
  for (const m of metrics) {
    for (const v of m.values) {
      const name = v.labels['group'];
      if (name === undefined) {
        if (isDlq(m)) ungroupedDlq += v.value;
        continue;
      }
      if (isDlq(m)) group(String(name)).dlq += v.value;
      else if (isLagUpdated(m)) group(String(name)).lagAgeS = Math.max(0, Math.round(now / 1000 - v.value));
      else if (isLag(m)) group(String(name)).lag += v.value;
      else if (isConsumed(m)) group(String(name)).consumed += v.value;
    }
  }
  const list = [...groups.values()].sort((a, b) => a.group.localeCompare(b.group));
  // Each group reads every record, so each counts the same bad ones: the DLQ holds the most any
  // one group saw, not their sum.
  const dlq = ungroupedDlq + list.reduce((n, g) => Math.max(n, g.dlq), 0);
  return { time: now, groups: list, dlq, live };
}
