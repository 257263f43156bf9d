// Fetch response v4-v11.
import { Writer } from '../codec.js';

export interface FetchPartitionResponse {
  partition: number;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer | null;
}

export function encodeFetchResponse(
  topics: { topic: string; partitions: FetchPartitionResponse[] }[],
  version: number,
): Buffer[] {
  const w = new Writer(1024);
  w.int32(0); // throttle_time_ms
  if (version >= 7) w.int16(0).int32(0); // error_code, session_id 0 = no fetch session
  // Record bytes are appended as separate buffers, not copied into the Writer.
  const parts: Buffer[] = [];
  w.int32(topics.length);
  for (const t of topics) {
    w.string(t.topic).int32(t.partitions.length);
    for (const p of t.partitions) {
      w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark);
      w.int64(p.highWatermark); // last_stable_offset: no transactions
      if (version >= 5) w.int64(p.logStartOffset);
      w.int32(-1); // aborted_transactions: null
      if (version >= 11) w.int32(-1); // preferred_read_replica: none
      if (p.records) {
        w.int32(p.records.length);
        parts.push(Buffer.from(w.toBuffer()), p.records);
        w.reset();
      } else {
        w.int32(0); // empty, not null: librdkafka rejects a null record set
      }
    }
  }
  parts.push(Buffer.from(w.toBuffer()));
  return parts;
}
