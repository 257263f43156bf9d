// Fault injection (issue 6.2b and 6.2e) on the edge agent.
//  b. The agent is SIGKILLed at random moments, many times: nothing its outbox stored is lost or
//     stored twice in the cloud (a row leaves the outbox only after Kafka acknowledged it).
//  e. The outbox fills up while the broker is away: the oldest are dropped and counted, the
//     cloud shows exactly those as lost, and everything else arrives.
import { join } from 'node:path';
import t from 'tap';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { checkExactlyOnce, eventually, settleAndCheck, sleep, withStack } from './helpers/stack.js';

t.test('agent SIGKILLed at random moments: nothing lost, nothing doubled', (t) =>
  withStack(t, async (stack) => {
    const track = join(stack.dir, 'track.nmea');
    writeNmeaTrack(track, { epochs: 600, startMs: Date.UTC(2026, 10, 25, 10, 0, 0) });
    const id = 'rider-b1';
    await stack.startBroker();
    await stack.startIngest('ingest', { INGEST_HTTP: 'false' });

    const rounds = 12;
    let killedWithBacklog = 0;
    const generated = () => stack.outbox(id).generated;
    for (let i = 0; i < rounds; i++) {
      const before = generated();
      stack.startAgent(id, { file: track, speed: 200 });
      // At a random moment of its run: up to 2 s after it stores its first new fix. A fixed 1.2-3.2 s
      // from the spawn was less than the start-up alone on a loaded machine: all 12 runs were
      // killed before the outbox existed, and reading it threw SQLITE_CANTOPEN.
      await eventually(() => generated() > before || !stack.running(`agent-${id}`), 60_000, 50);
      await sleep(Math.random() * 2000);
      await stack.kill(`agent-${id}`, 'SIGKILL');
      try {
        if (stack.outbox(id).pending > 0) killedWithBacklog++;
      } catch {
        // killed before it created its outbox file
      }
    }
    t.ok(stack.outbox(id).generated > 0, 'the killed runs generated fixes');
    t.ok(killedWithBacklog >= 1, `${killedWithBacklog} kills left unsent rows behind`);

    // A last run that is left alone: it drains what the killed runs left, then exits.
    stack.startAgent(id, { file: track, speed: 0 });
    t.equal(await stack.exited(`agent-${id}`), 0, 'the last run finished cleanly');
    await settleAndCheck(t, stack, [id]);
  }),
);

t.test('outbox full while offline: oldest dropped, counted, shown as lost', (t) =>
  withStack(t, async (stack) => {
    const track = join(stack.dir, 'track.nmea');
    writeNmeaTrack(track, { epochs: 300, startMs: Date.UTC(2026, 10, 25, 11, 0, 0) });
    const id = 'rider-e1';
    await stack.startBroker();
    await stack.startIngest();
    // The first 300 fixes arrive while the broker is up (default bound: nothing dropped).
    stack.startAgent(id, { file: track, speed: 0 });
    t.equal(await stack.exited(`agent-${id}`), 0);
    t.ok(await eventually(() => stack.storedSeqs(id).length === 300, 30_000), 'first 300 stored');

    // Broker away: 300 more fixes into an outbox now bounded to 50.
    await stack.kill('broker', 'SIGTERM');
    const offlineTrack = join(stack.dir, 'offline.nmea');
    writeNmeaTrack(offlineTrack, { epochs: 300, startMs: Date.UTC(2026, 10, 25, 11, 10, 0) });
    stack.startAgent(id, { file: offlineTrack, speed: 0, env: { OUTBOX_MAX_ROWS: '50' } });
    t.ok(
      await eventually(() => stack.outbox(id).generated === 600, 60_000),
      'all 300 offline fixes generated',
    );
    const offline = stack.outbox(id);
    t.equal(offline.pending, 50, 'the outbox holds its bound');
    t.equal(offline.droppedCount, 250, 'the 250 oldest were dropped and counted');
    t.equal(offline.droppedThrough, 550, 'droppedThrough names the newest dropped seq');

    await stack.startBroker();
    t.equal(await stack.exited(`agent-${id}`), 0, 'the agent drained and finished');
    t.ok(await eventually(() => stack.storedSeqs(id).length === 350, 30_000), '300 + the 50 newest stored');
    checkExactlyOnce(t, stack, [id]);

    // The cloud tells the dropped gap (lost for good) from a late one.
    type Devices = {
      devices: {
        deviceId: string;
        lost: number;
        missing: number;
        gaps: { from: number; to: number; lost: boolean }[];
      }[];
    };
    let device: Devices['devices'][number] | undefined;
    const shown = await eventually(async () => {
      device = (await stack.api<Devices>('/api/devices')).devices.find((d) => d.deviceId === id);
      return device?.lost === 250;
    }, 20_000);
    t.ok(shown, `the API shows 250 lost (got ${device?.lost})`);
    t.equal(device?.missing, 0, 'nothing still expected');
    t.same(device?.gaps, [{ from: 301, to: 550, lost: true, rejected: false }], 'one lost gap, 301..550');
  }),
);
