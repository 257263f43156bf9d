// The rider's SD card filling up, for real: the agent runs under a file-size limit (ulimit -f), so
// once its outbox's WAL reaches it every commit fails with EFBIG, as on a full card. The agent
// must stay up, keep the newest positions that arrive meanwhile in memory (600, six seconds of
// this 100x replay), stop feeding the systemd watchdog while it cannot store (so a card that stays
// full gets the service restarted), and, once there is room (the limit lifted from outside with
// prlimit), store and send them. The card stays full longer than the agent can hold:
// the positions it let go take their seqs as dropped, so the cloud shows them as lost.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { notifyListener } from './helpers/agent-notify.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { eventually, settleAndCheck, withStack } from './helpers/stack.js';

const EPOCHS = 3000;

t.test(
  'a full card under the agent: positions kept, the rest shown as lost, watchdog starved, all sent once there is room',
  (t) =>
    withStack(t, async (stack) => {
      const track = join(stack.dir, 'track.nmea');
      writeNmeaTrack(track, { epochs: EPOCHS, startMs: Date.UTC(2026, 10, 25, 9, 0, 0) });
      const notify = await notifyListener(t);
      await stack.startBroker();
      await stack.startIngest('ingest', { INGEST_HTTP: 'false' });
      const id = 'rider-full';
      const name = `agent-${id}`;
      // 512 KiB: a commit per fix writes ~6 KB to the WAL (README), so it is full within a second,
      // and stays full: SQLite checkpoints (and starts the WAL over) only at 1000 pages, ~1 MB
      // with the outbox's 1 KiB pages, which a WAL held under 512 KiB never reaches.
      stack.startAgent(id, {
        file: track,
        speed: 100,
        fileSizeLimitKb: 512,
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
      // Held until it lets the oldest go: the log line counts them ("unstored").
      t.ok(
        // 600 positions take 6 s at 100x, and several times that on a loaded machine (CI).
        await eventually(() => /"unstored":[1-9]/.test(log()), 120_000),
        'past 600 held positions, the oldest are let go',
      );
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
        'every position of the track got a seq, stored or recorded as dropped',
      );
      t.ok(
        facts.droppedCount > 0 && facts.droppedCount < EPOCHS - 600,
        `${facts.droppedCount} positions let go while the card stayed full, the newest 600 kept`,
      );
      // Every stored seq once, and below droppedThrough only the dropped ones missing.
      await settleAndCheck(t, stack, [id]);
      const ingest = new Database(stack.ingestDb, { readonly: true });
      t.teardown(() => ingest.close());
      t.equal(
        (
          ingest.prepare('SELECT dropped_through AS d FROM devices WHERE device_id = ?').get(id) as {
            d: number;
          }
        ).d,
        facts.droppedThrough,
        'the cloud knows where the lost ones end: they count as lost, not as still to come',
      );
    }),
);
