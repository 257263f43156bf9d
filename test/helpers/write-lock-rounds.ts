// Critical sections that go wrong without mutual exclusion: a read-modify-write of a shared
// counter across an await (two holders at once lose an update), and a count of holders inside.
import { ThreadWriteLock } from '../../ingest/db/thread-write-lock.js';

/** state: Int32Array cells [counter, inside now, most inside at once]. */
export async function lockedRounds(lock: SharedArrayBuffer, state: SharedArrayBuffer, rounds: number) {
  const l = new ThreadWriteLock(lock);
  const s = new Int32Array(state);
  for (let i = 0; i < rounds; i++) {
    await l.run(async () => {
      const inside = Atomics.add(s, 1, 1) + 1;
      if (inside > Atomics.load(s, 2)) Atomics.store(s, 2, inside);
      const c = Atomics.load(s, 0);
      await new Promise((r) => setImmediate(r));
      Atomics.store(s, 0, c + 1);
      Atomics.sub(s, 1, 1);
    });
  }
}
