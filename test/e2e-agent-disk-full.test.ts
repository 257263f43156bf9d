// The rider's SD card filling up, for real: the agent runs under a file-size limit (ulimit -f), so
// once its outbox's WAL reaches it every commit fails with EFBIG, as on a full card. The agent
// must stay up, keep the positions that arrive meanwhile in memory (up to its cap), stop feeding
// the systemd watchdog while it cannot store (so a card that stays full gets the service
// restarted), and, once there is room (the limit lifted from outside with prlimit), store and
// send them: the cloud ends with every fix of the track, each once, with no seq skipped.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { notifyListener } from './helpers/agent-notify.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { eventually, settleAndCheck, sleep, withStack } from './helpers/stack.js';

const EPOCHS = 2000;

t.test(
  'a full card under the agent: positions kept, watchdog starved, everything sent once there is room',
  (t) =>
    withStack(t, async (stack) => {
      const track = join(stack.dir, 'track.nmea');
      writeNmeaTrack(track, { epochs: EPOCHS, startMs: Date.UTC(2026, 10, 25, 9, 0, 0) });
      const notify = await notifyListener(t);
      await stack.startBroker();
      await stack.startIngest('ingest', { INGEST_HTTP: 'false' });
      const id = 'rider-full';
      const name = `agent-${id}`;
      // 1 MiB: a commit per fix writes ~6 KB to the WAL (README), so it is full within seconds.
      stack.startAgent(id, {
        file: track,
        speed: 100,
        fileSizeLimitKb: 1024,
        env: { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' },
      });
      const log = () => readFileSync(join(stack.dir, 'logs', `${name}.log`), 'utf8');
      const fed = () => notify.messages.filter((m) => m.includes('WATCHDOG=1')).length;
      await notify.waitFor('the watchdog fed while healthy', (m) => m.includes('WATCHDOG=1'), 30_000);

      t.ok(
        await eventually(() => /outbox write failed/.test(log()), 30_000),
        'the outbox writes fail: the card is full',
      );
      const fedWhenFull = fed();
      await sleep(1500);
      t.equal(fed(), fedWhenFull, 'the watchdog is not fed while the outbox cannot be written');
      t.ok(stack.running(name), 'the agent is still running with its card full');

      // Room again (the operator cleans the card up): lift the running agent's limit.
      execFileSync('prlimit', ['--pid', String(stack.pid(name)), '--fsize=unlimited:']);
      t.ok(
        await eventually(() => fed() > fedWhenFull, 20_000),
        'the watchdog is fed again once the fixes are stored',
      );
      t.equal(await stack.exited(name), 0, 'the replay ends and the agent stops cleanly, its outbox sent');
      const facts = stack.outbox(id);
      t.equal(
        facts.generated,
        EPOCHS,
        'every position of the track got a seq: none lost while the card was full',
      );
      t.equal(facts.droppedCount, 0);
      await settleAndCheck(t, stack, [id]);
    }),
);
