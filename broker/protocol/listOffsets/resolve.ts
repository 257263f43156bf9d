// Which offset ListOffsets answers for one partition, as Kafka's Partition.fetchOffsetForTimestamp
// decides it. A consumer (replica_id -1) is told only about what it can fetch: "latest" is the
// high watermark (READ_UNCOMMITTED) or the last stable offset (READ_COMMITTED), and a timestamp
// lookup whose batch lies at or past that point finds nothing (offset -1). Here the high
// watermark is the fsync'ed end (storage/log.ts) and, without transactions, the last stable
// offset equals it, so both isolation levels get the same answer. Any other replica_id is a
// follower (>= 0) or a debugging tool (-2): Kafka answers those the log end offset. This broker
// has no followers, but it answers them per the protocol.
import type { PartitionLog } from '../../storage/log.js';

export const LATEST = -1;
export const EARLIEST = -2;
export const MAX_TIMESTAMP = -3;
export const CONSUMER_REPLICA_ID = -1;

export interface OffsetAnswer {
  timestamp: number;
  offset: number;
}

type OffsetsOf = Pick<
  PartitionLog,
  'logStartOffset' | 'logEndOffset' | 'highWatermark' | 'offsetForTimestamp' | 'maxTimestamp'
>;

export function resolveOffset(log: OffsetsOf, timestamp: number, replicaId: number): OffsetAnswer {
  const lastFetchable = replicaId === CONSUMER_REPLICA_ID ? log.highWatermark : log.logEndOffset;
  if (timestamp === LATEST) return { timestamp: -1, offset: lastFetchable };
  if (timestamp === EARLIEST) return { timestamp: -1, offset: log.logStartOffset };
  const found = timestamp === MAX_TIMESTAMP ? log.maxTimestamp() : log.offsetForTimestamp(timestamp);
  // The high watermark only ever sits between batches, so a batch starting below it is readable whole.
  if (!found || found.offset >= lastFetchable) return { timestamp: -1, offset: -1 }; // Kafka's "none"
  return { timestamp: found.timestamp, offset: Math.max(found.offset, log.logStartOffset) };
}
