// Produce request v3-v9 (v3 is the first with record batch v2 / magic 2; v9 flexible).
import type { Reader } from '../codec.js';

export interface ProducePartitionData {
  index: number;
  records: Buffer | null;
}

export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: { name: string; partitions: ProducePartitionData[] }[];
}

export function decodeProduceRequest(r: Reader, version: number): ProduceRequest {
  const flex = version >= 9;
  const transactionalId = r.nullableStr(flex);
  const acks = r.int16();
  const timeoutMs = r.int32();
  const topics = r.arr(flex, (r) => {
    const name = r.str(flex);
    const partitions = r.arr(flex, (r) => {
      const index = r.int32();
      const records = r.nullableBytesV(flex);
      r.tags(flex);
      return { index, records };
    });
    r.tags(flex);
    return { name, partitions };
  });
  r.tags(flex);
  return { transactionalId, acks, timeoutMs, topics };
}
