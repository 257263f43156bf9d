// One writer at a time across the threads of a process: an async mutex on a SharedArrayBuffer
// that every thread's SqliteStore holds around its write transactions.
//
// Why: fix-store members on threads of their own (ingest/app.ts, INGEST_FIX_STORE_THREADS) each
// have their own SQLite connection, and SQLite lets one of them write at a time. Left to SQLite,
// the one that finds the database locked sleeps in its busy handler in steps of 1 to 100 ms and
// looks again, leaving the database idle for most of the wait (two processes on one file measured
// +10% over one; two threads with this lock +15-18%). Here the holder wakes the next waiter the
// moment its transaction ends. Waiting is Atomics.waitAsync: it does not hold the thread's event
// loop (heartbeats, a live group on the main thread).
//
// A thread that dies holding the lock would leave it held: a dead store thread ends the process
// (groups-thread.ts), which is what frees it.
const FREE = 0;
const HELD = 1;
/** A waiter looks at the lock again after this long even if no wake came (ms). */
const RECHECK_MS = 50;

// Node 20 has it (V8); TypeScript's ES2022 lib does not declare it.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      index: number,
      value: number,
      timeoutMs?: number,
    ): { async: boolean; value: unknown };
  }
).waitAsync;

export class ThreadWriteLock {
  private readonly cell: Int32Array;

  /** `shared`: the same SharedArrayBuffer (4 bytes, zeroed) in every thread. */
  constructor(shared: SharedArrayBuffer) {
    this.cell = new Int32Array(shared, 0, 1);
  }

  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(4);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      Atomics.store(this.cell, 0, FREE);
      Atomics.notify(this.cell, 0, 1);
    }
  }

  private async acquire(): Promise<void> {
    for (;;) {
      if (Atomics.compareExchange(this.cell, 0, FREE, HELD) === FREE) return;
      // Sleeps only while the cell still reads HELD; a release in between returns at once.
      const wait = waitAsync(this.cell, 0, HELD, RECHECK_MS);
      if (!wait.async) continue;
      // A pending waitAsync does not keep Node's event loop alive: a thread with nothing else to
      // do (a worker waiting for the lock) simply ended, its work undone (seen as a test that
      // never finished, 1 run in 6). A timer of our own keeps it, and rechecks the lock.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([wait.value, new Promise((r) => (timer = setTimeout(r, RECHECK_MS)))]);
      clearTimeout(timer);
    }
  }
}
