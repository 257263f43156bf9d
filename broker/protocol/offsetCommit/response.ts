// OffsetCommit response v0-v7. v3+ starts with throttle time.
import type { CommitResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeOffsetCommitResponse(res: CommitResult, version: number): Writer {
  const w = new Writer(64);
  if (version >= 3) w.int32(0); // throttle_time_ms
  w.array(res, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) => {
      w.int32(p.partition).int16(p.errorCode);
    });
  });
  return w;
}
