// Child process for test/agent-outbox-crash.test.ts: writes to an outbox as fast as it can and
// says on stdout what it committed, until the test kills it with SIGKILL.
// stdout to a pipe is synchronous on Linux, so a printed line means the commit came before it.
import { Outbox } from '../../agent/outbox/outbox.js';
import { position } from './agent-fixes.js';

const ob = new Outbox(process.argv[2]!, { maxRows: 1_000_000 });
let i = Number(process.argv[3] ?? 0);
for (;;) {
  const r = ob.appendMany([
    { deviceId: 'bike-1', position: position(i) },
    { deviceId: 'bike-2', position: position(i) },
  ]);
  for (const f of r.stored) process.stdout.write(`stored ${f.deviceId} ${f.seq}\n`);
  i++;
  if (i % 7 === 0) {
    const sent = ob.oldestUnsent(5);
    for (const s of sent) process.stdout.write(`sending ${s.deviceId} ${s.seq}\n`);
    ob.markSent(sent);
    if (i % 3 === 0) ob.flush();
  }
}
