// How the `live` consumer group is run (app.ts; bench/live.ts measures with the same settings).
// The live view is in memory and a redelivered fix is ignored as older than the one held, so
// the group can trade the other groups' batching and per-batch commits for latency:
// - flush to the view on the next timer tick (the batches of one fetch still arrive together);
// - commit offsets once a second, not after every batch: kafkajs fetches again only after the
//   batches' commits, each a round trip and an fsync on the embedded broker, so per-batch
//   commits put several fsyncs between a fix's arrival at the broker and the fetch that takes it;
// - a long poll of 500 ms when idle (the broker answers as soon as data is readable).
import type { GroupOptions } from '../consumer/runner.js';

type Tuning = Pick<GroupOptions, 'flushRows' | 'flushMs' | 'maxWaitTimeInMs' | 'commitIntervalMs'>;

export function liveGroupOptions(o: { flushRows: number }): Tuning {
  return {
    flushRows: Math.min(o.flushRows, 500),
    flushMs: 0,
    maxWaitTimeInMs: 500,
    commitIntervalMs: 1000,
  };
}
