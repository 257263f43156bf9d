// OffsetCommit response v0-v8. v3+ starts with throttle time; v8 flexible.
import type { CommitResult } from '../../groups/types.js';
import { Writer } from '../codec.js';

export function encodeOffsetCommitResponse(res: CommitResult, version: number): Writer {
  const flex = version >= 8;
  const w = new Writer(64);
  if (version >= 3) w.int32(0); // throttle_time_ms
  w.arr(flex, res, (w, t) => {
    w.str(flex, t.name);
    w.arr(flex, t.partitions, (w, p) => {
      w.int32(p.partition).int16(p.errorCode).tags(flex);
    });
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}
