// Consumer lag per group and partition, from the broker's view: the partition's "latest"
// offset minus the group's committed offset. "Latest" is the high watermark (what consumers can
// fetch; on our broker the fsync'ed end, not the log end), as Kafka answers ListOffsets, so
// the gauge counts only records the group could already have read. Polled, because a stuck
// consumer (database down) fetches nothing and so can never report its own growing lag.
import type { Admin } from 'kafkajs';
import type { Logger } from '../../shared/log.js';
import type { IngestMetrics } from '../metrics.js';
import { pollEvery } from './poll.js';

export async function measureLag(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<{ partition: number; lag: number }[]> {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const done = new Map<number, number>();
  for (const p of committed.find((t) => t.topic === topic)?.partitions ?? []) {
    done.set(p.partition, Number(p.offset));
  }
  return ends.map((e) => {
    const c = done.get(e.partition) ?? -1;
    // No commit yet: the group starts at the earliest retained offset.
    const from = c >= 0 ? c : Number(e.low);
    return { partition: e.partition, lag: Math.max(0, Number(e.high) - from) };
  });
}

/** Polls the lag of the groups every intervalMs into the gauge; returns a stop function. */
export function pollLag(
  admin: Admin,
  groups: string[],
  topic: string,
  metrics: IngestMetrics,
  log: Logger,
  intervalMs = 10_000,
): () => void {
  return pollEvery(intervalMs, 'measure consumer lag', log, async () => {
    for (const g of groups) {
      for (const { partition, lag } of await measureLag(admin, g, topic)) {
        metrics.consumerLag.set({ group: g, topic, partition: String(partition) }, lag);
      }
      metrics.lagUpdated.set({ group: g }, Date.now() / 1000);
    }
  });
}
