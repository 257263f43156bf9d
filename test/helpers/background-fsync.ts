// The broker's background fsyncs, wrapped until teardown so a test can hold or fail them for real:
// Journal.sync (an fsync round, in a broker) and Segment.flushAsync (a round of a log opened
// without a journal, as the storage tests do; and a journal checkpoint).
import type { Test } from 'tap';
import { Journal } from '../../broker/storage/journal.js';
import { Segment } from '../../broker/storage/segment.js';

/** `hold` decides what each background fsync does; `real` runs it. */
export function wrapBackgroundFsync(t: Test, hold: (real: () => Promise<void>) => Promise<void>): void {
  const segment = Segment.prototype.flushAsync;
  const journal = Journal.prototype.sync;
  Segment.prototype.flushAsync = function (this: Segment) {
    return hold(() => segment.call(this));
  };
  Journal.prototype.sync = function (this: Journal) {
    return hold(() => journal.call(this));
  };
  t.teardown(() => {
    Segment.prototype.flushAsync = segment;
    Journal.prototype.sync = journal;
  });
}
