// OffsetFetch request v0-v5. v2+ allows a null topic list meaning every committed partition.
import type { Reader } from '../codec.js';

export interface OffsetFetchRequest {
  groupId: string;
  topics: { name: string; partitions: number[] }[] | null;
}

export function decodeOffsetFetchRequest(r: Reader, version: number): OffsetFetchRequest {
  const groupId = r.string();
  const item = (r: Reader) => ({ name: r.string(), partitions: r.array((r) => r.int32()) });
  const topics = version >= 2 ? r.nullableArray(item) : r.array(item);
  return { groupId, topics };
}
