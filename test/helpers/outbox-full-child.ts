// Run under a file-size limit (ulimit -f) by test/agent-outbox.test.ts: fills an outbox until
// the card is "full" (a real EFBIG from the kernel, SQLite's disk I/O error), then acknowledges
// the oldest rows as Kafka would, and prints which of them the send queue offers again.
import { Outbox } from '../../agent/outbox/outbox.js';
import { failWritesPastFileSizeLimit } from '../../shared/file-size-limit.js';
import { createLogger } from '../../shared/log.js';
import { position } from './agent-fixes.js';

failWritesPastFileSizeLimit(createLogger('outbox-full', 'silent'));
const ob = new Outbox(process.argv[2]!);
const errors: string[] = [];
const attempt = (f: () => void) => {
  try {
    f();
  } catch (e) {
    errors.push(String(e));
  }
};
for (let i = 0; i < 100_000 && errors.length === 0; i++)
  attempt(() => ob.append('bike-1', position(i % 1000)));
const sent = ob.oldestUnsent(100);
attempt(() => ob.markSent(sent)); // a flush: its delete cannot be committed either
attempt(() => ob.append('bike-1', position(5)));
const offered = new Set(ob.oldestUnsent(10_000).map((r) => r.seq));
process.stdout.write(
  `${JSON.stringify({ errors, sent: sent.length, offeredAgain: sent.filter((r) => offered.has(r.seq)).length })}\n`,
);
