// Produce response v3-v9.
import { Writer } from '../codec.js';

export interface ProducePartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  errorMessage: string | null;
}

export function encodeProduceResponse(
  topics: { name: string; partitions: ProducePartitionResponse[] }[],
  version: number,
): Writer {
  const flex = version >= 9;
  const w = new Writer();
  w.arr(flex, topics, (w, t) => {
    w.str(flex, t.name);
    w.arr(flex, t.partitions, (w, p) => {
      w.int32(p.index).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTimeMs);
      if (version >= 5) w.int64(p.logStartOffset);
      if (version >= 8) {
        w.arr(flex, [] as number[], (w, i) => w.int32(i)); // record_errors
        w.nullableStr(flex, p.errorMessage);
      }
      w.tags(flex);
    });
    w.tags(flex);
  });
  w.int32(0); // throttle_time_ms
  w.tags(flex);
  return w;
}
