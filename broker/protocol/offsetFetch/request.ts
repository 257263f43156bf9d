// OffsetFetch request v0-v7. v2+ allows a null topic list meaning every committed partition;
// v6+ flexible; v7+ require_stable (always satisfied here: there are no transactional commits
// that could be pending).
import type { Reader } from '../codec.js';

export interface OffsetFetchRequest {
  groupId: string;
  topics: { name: string; partitions: number[] }[] | null;
}

export function decodeOffsetFetchRequest(r: Reader, version: number): OffsetFetchRequest {
  const flex = version >= 6;
  const groupId = r.str(flex);
  const item = (r: Reader) => {
    const name = r.str(flex);
    const partitions = r.arr(flex, (r) => r.int32());
    r.tags(flex);
    return { name, partitions };
  };
  const topics = version >= 2 ? r.nullableArr(flex, item) : r.arr(flex, item);
  if (version >= 7) r.bool(); // require_stable
  r.tags(flex);
  return { groupId, topics };
}
