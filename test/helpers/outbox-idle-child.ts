// Child process for test/agent-clock-step.test.ts: an outbox that stores one fix, then, when told
// on stdin, marks it sent (Kafka acknowledged it) and sits idle, so that only the outbox's own
// quiet-flush timer can commit the delete. Says "stored" and "sent" on stdout.
import { createInterface } from 'node:readline';
import { Outbox } from '../../agent/outbox/outbox.js';
import { position } from './agent-fixes.js';

const ob = new Outbox(process.argv[2]!);
ob.append('bike-idle', position(0));
process.stdout.write('stored\n');
createInterface({ input: process.stdin }).on('line', () => {
  ob.markSent(ob.oldestUnsent(10));
  process.stdout.write('sent\n');
});
