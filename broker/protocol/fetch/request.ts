// Fetch request v4-v11 (v4 is the first that carries record batch v2 and isolation level).
import type { Reader } from '../codec.js';

export interface FetchPartition {
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  sessionId: number;
  sessionEpoch: number;
  topics: { topic: string; partitions: FetchPartition[] }[];
}

export function decodeFetchRequest(r: Reader, version: number): FetchRequest {
  r.int32(); // replica_id: -1 for consumers; this broker has no followers
  const maxWaitMs = r.int32();
  const minBytes = r.int32();
  const maxBytes = r.int32();
  r.int8(); // isolation_level: no transactions, so read_committed == read_uncommitted
  let sessionId = 0;
  let sessionEpoch = -1;
  if (version >= 7) {
    sessionId = r.int32();
    sessionEpoch = r.int32();
  }
  const topics = r.array((r) => {
    const topic = r.string();
    const partitions = r.array((r) => {
      const partition = r.int32();
      if (version >= 9) r.int32(); // current_leader_epoch
      const fetchOffset = r.int64n();
      if (version >= 5) r.int64(); // log_start_offset (followers only)
      const partitionMaxBytes = r.int32();
      return { partition, fetchOffset, partitionMaxBytes };
    });
    return { topic, partitions };
  });
  if (version >= 7) {
    r.array((r) => {
      r.string();
      r.array((r) => r.int32());
    }); // forgotten_topics_data: no sessions, nothing to forget
  }
  if (version >= 11) r.string(); // rack_id
  return { maxWaitMs, minBytes, maxBytes, sessionId, sessionEpoch, topics };
}
