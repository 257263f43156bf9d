// Fault injection (issue 6.2c): the ingest is killed with SIGKILL mid-batch, many times, while
// agents keep producing. Offsets are committed only after the database commit and writes are
// idempotent, so the database must end with each fix exactly once.
import { join } from 'node:path';
import t from 'tap';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { settleAndCheck, sleep, withStack } from './helpers/stack.js';

t.test('ingest SIGKILLed mid-batch many times: every fix stored exactly once', (t) =>
  withStack(t, async (stack) => {
    const track = join(stack.dir, 'track.nmea');
    writeNmeaTrack(track, { epochs: 1500, startMs: Date.UTC(2026, 10, 25, 9, 0, 0) });
    const devices = ['rider-c1', 'rider-c2', 'rider-c3'];
    await stack.startBroker();
    // Small batches, so a kill lands between a batch's DB commit and its offset commit often.
    const ingestEnv = { INGEST_FLUSH_ROWS: '100', INGEST_FLUSH_MS: '50', INGEST_HTTP: 'false' };
    await stack.startIngest('ingest', ingestEnv);
    for (const id of devices) stack.startAgent(id, { file: track, speed: 100 });

    let kills = 0;
    let killsUnderLoad = 0;
    const rounds = 8;
    for (let i = 0; i < rounds; i++) {
      await sleep(1500 + Math.random() * 1500);
      const behind = devices.some((id) => stack.storedSeqs(id).length < 1500);
      await stack.kill('ingest', 'SIGKILL');
      kills++;
      if (behind) killsUnderLoad++;
      await stack.startIngest('ingest', ingestEnv);
    }
    t.equal(kills, rounds, `ingest killed ${kills} times`);
    t.ok(killsUnderLoad >= 3, `${killsUnderLoad} kills landed while fixes were still flowing`);

    // Agents exit by themselves once their file is replayed and their outbox is empty.
    for (const id of devices) t.equal(await stack.exited(`agent-${id}`), 0, `${id} finished cleanly`);
    await settleAndCheck(t, stack, devices);
  }),
);
