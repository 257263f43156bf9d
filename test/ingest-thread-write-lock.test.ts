// ThreadWriteLock (ingest/db/thread-write-lock.ts) across real worker threads and the main thread.
import t from 'tap';
import { ThreadWriteLock } from '../ingest/db/thread-write-lock.js';
import { startModuleWorker } from '../shared/module-worker.js';
import { lockedRounds } from './helpers/write-lock-rounds.js';

t.test('one holder at a time across three threads, none starved, errors release it', async (t) => {
  const lock = ThreadWriteLock.create();
  const state = new SharedArrayBuffer(12);
  const rounds = 300;
  const workers = [0, 1].map(() =>
    startModuleWorker(new URL('./helpers/write-lock-worker.ts', import.meta.url), {
      workerData: { lock, state, rounds },
    }),
  );
  const done = workers.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
      }),
  );
  await Promise.all([lockedRounds(lock, state, rounds), ...done]);
  await Promise.all(workers.map((w) => w.terminate()));
  const s = new Int32Array(state);
  t.equal(s[2], 1, 'never two holders inside at once');
  t.equal(s[0], 3 * rounds, 'no update lost');
  const l = new ThreadWriteLock(lock);
  await t.rejects(
    l.run(async () => {
      throw new Error('transaction failed');
    }),
    /transaction failed/,
  );
  t.equal(await l.run(async () => 'next'), 'next', 'a failed holder released the lock');
});
