// A worker of test/ingest-thread-write-lock.test.ts: `rounds` critical sections under the lock.
import { parentPort, workerData } from 'node:worker_threads';
import { lockedRounds } from './write-lock-rounds.js';

const { lock, state, rounds } = workerData as {
  lock: SharedArrayBuffer;
  state: SharedArrayBuffer;
  rounds: number;
};
await lockedRounds(lock, state, rounds);
parentPort!.postMessage('done');
