// The rider's SD card filling up, for real: the agent runs under a file-size limit (ulimit -f), so
// once its outbox's WAL reaches it every commit fails with EFBIG, as on a full card. The agent
// must stay up, keep the newest positions that arrive meanwhile in memory (600, six seconds of
// this 100x replay), stop feeding the systemd watchdog while it cannot store (so a card that stays
// full gets the service restarted), and, once there is room (the limit lifted from outside with
// prlimit), store and send them. The card stays full longer than the agent can hold:
// the positions it let go take their seqs as dropped, so the cloud shows them as lost.
// The sender's side of a full card is e2e-agent-disk-full-sender.test.ts (a file of its own so
// that each file stays well inside tap's timeout on a loaded machine).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

t.test(
  'a replay that ends while the card is full waits for room to store what it holds; a stop while full says what is lost',
  (t) =>
    withStack(t, async (stack) => {
      const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
      const short = join(stack.dir, 'short.nmea');
      const long = join(stack.dir, 'long.nmea');
      // 400 epochs at 100x: 4 s, long enough to fill the 512 KiB within its first second.
      writeNmeaTrack(short, { epochs: 400, startMs });
      writeNmeaTrack(long, { epochs: EPOCHS, startMs, lat: 48.85, lon: 2.35 });
      await stack.startBroker();
      await stack.startIngest('ingest', { INGEST_HTTP: 'false' });
      const ended = 'rider-ended';
      const stopped = 'rider-stopped';
      stack.startAgent(ended, { file: short, speed: 100, fileSizeLimitKb: 512 });
      stack.startAgent(stopped, { file: long, speed: 100, fileSizeLimitKb: 512 });
      const log = (id: string) => {
        const file = join(stack.dir, 'logs', `agent-${id}.log`);
        return existsSync(file) ? readFileSync(file, 'utf8') : ''; // not yet, just started
      };

      // The track ends while the outbox cannot be written: the agent holds the positions and
      // retries (every 5 s without new fixes) instead of stopping without them.
      t.ok(
        await eventually(
          () => /source ended/.test(log(ended)) && /outbox write failed/.test(log(ended)),
          120_000,
        ),
        'the replay ended with the card full',
      );
      const failures = () => log(ended).match(/outbox write failed/g)!.length;
      const before = failures();
      t.ok(
        await eventually(() => failures() > before, 30_000),
        'the held positions are retried without new fixes',
      );
      t.ok(stack.running(`agent-${ended}`), 'the agent waits: it holds positions it has not stored');
      t.ok(stack.outbox(ended).generated < 400, 'some positions are still only in memory');

      // The other one is stopped (SIGTERM) while its card is still full.
      t.ok(await eventually(() => /outbox write failed/.test(log(stopped)), 120_000), 'its card is full too');
      t.equal(await stack.kill(`agent-${stopped}`, 'SIGTERM'), 0, 'SIGTERM with the card full: a clean exit');
      const lost = /"lost":(\d+).*they are lost, with no seq/.exec(log(stopped));
      t.ok(lost && Number(lost[1]) > 0, `the log says how many positions are lost: ${lost?.[1]}`);

      execFileSync('prlimit', ['--pid', String(stack.pid(`agent-${ended}`)), '--fsize=unlimited:']);
      t.equal(await stack.exited(`agent-${ended}`), 0, 'once there is room it stores, sends and stops');
      const facts = stack.outbox(ended);
      t.equal(facts.generated, 400, 'every position of the track got a seq');
      t.equal(facts.droppedCount, 0, 'none was let go: it never held more than it can');
      await settleAndCheck(t, stack, [ended]);
    }),
);
