// The ingest process's Prometheus metrics, in one Registry that ingest-web serves at /metrics.
// createIngestMetrics() makes a fresh set (tests and benchmarks use their own); `metrics` is the
// process-wide one the consumer groups and the HTTP server share.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createIngestMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    consumedFixes: new Counter({
      name: 'ingest_consumed_fixes_total',
      help: 'Fix records consumed from Kafka (decoded or not), per consumer group',
      labelNames: ['group'] as const,
      registers,
    }),
    writtenFixes: new Counter({
      name: 'ingest_written_fixes_total',
      help: 'Fixes newly stored in the database, by the group that stored them first (sum over groups = rows stored; duplicates not counted)',
      labelNames: ['group'] as const,
      registers,
    }),
    batchSize: new Histogram({
      name: 'ingest_batch_size',
      help: 'Fixes per sink flush',
      labelNames: ['group'] as const,
      buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 50000],
      registers,
    }),
    writeSeconds: new Histogram({
      name: 'ingest_write_seconds',
      help: 'Time for one sink flush to become durable (database transaction commit)',
      labelNames: ['group'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'ingest_consumer_lag',
      help: 'Messages behind: high watermark (what consumers can read) minus the committed offset, per group and partition',
      labelNames: ['group', 'topic', 'partition'] as const,
      // Every thread running a member of the group polls the same figure (app.ts): merged over
      // the threads (http/metrics.ts), the largest, not their sum.
      aggregator: 'max',
      registers,
    }),
    lagUpdated: new Gauge({
      name: 'ingest_consumer_lag_updated_seconds',
      help: 'When ingest_consumer_lag of the group was last measured (unix seconds): far behind now means its figures are stale (the broker does not answer)',
      labelNames: ['group'] as const,
      aggregator: 'max',
      registers,
    }),
    dlqRecords: new Counter({
      name: 'ingest_dlq_records_total',
      help: 'Records sent to the dead-letter topic, per group and reason class',
      labelNames: ['group', 'reason'] as const,
      registers,
    }),
    seqMissing: new Gauge({
      name: 'ingest_seq_missing_fixes',
      help: 'Seqs not (yet) stored, over all devices, that the devices did not report dropped',
      registers,
    }),
    seqLost: new Gauge({
      name: 'ingest_seq_lost_fixes',
      help: 'Seqs the devices reported dropped (droppedThrough) and that are not stored: lost for good',
      registers,
    }),
    seqRejected: new Gauge({
      name: 'ingest_seq_rejected_fixes',
      help: 'Seqs the cloud received and refused (dead-lettered by the fix-store group), not stored',
      registers,
    }),
    tripDaysRebuilt: new Counter({
      name: 'ingest_trip_days_rebuilt_total',
      help: 'Trip days rebuilt because late (out-of-order) fixes arrived for them',
      registers,
    }),
    tripRebuildsResumed: new Counter({
      name: 'ingest_trip_rebuilds_resumed_total',
      help: 'Trip rebuilds that continued from a checkpoint instead of reading the day from 00:00',
      registers,
    }),
    tripRebuildReads: new Counter({
      name: 'ingest_trip_rebuild_reads_total',
      help: 'Stored fixes the trip rebuilds read back (grows with late fixes, e.g. after a reconnect)',
      registers,
    }),
    sinkErrors: new Counter({
      name: 'ingest_sink_errors_total',
      help: 'Failed sink flushes (the batch is retried, offsets not committed)',
      labelNames: ['group'] as const,
      registers,
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

/** The process-wide metrics (with Node's default process metrics). */
export const metrics: IngestMetrics = createIngestMetrics({ defaults: true });
