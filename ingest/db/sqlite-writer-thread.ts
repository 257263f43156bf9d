// The fix-store group's SQLite writes on a thread of their own (INGEST_SQLITE_WRITER_THREAD).
//
// Why: better-sqlite3 is synchronous, so a flush's transaction ran on the consumer's thread, which
// was the busy one (kafkajs decode, our fix decode, the inserts: ~4.4 us a fix) while a second core
// sat half idle. Here the consumer hands the batch over and goes on fetching and decoding while the
// thread writes. The hand-over is columns whose buffers are transferred (fix-columns.ts), not the
// Fix objects: structured-cloning 20,000 of them cost the consumer more than the write saved.
//
// The thread's SqliteStore and every other store of the process writing the file take turns
// through one ThreadWriteLock (thread-write-lock.ts says why), so the main thread's own writes
// (writeRejected, trips) never meet SQLITE_BUSY because of it.
import type { Worker } from 'node:worker_threads';
import type { Fix } from '../../shared/fix.js';
import {
  reviveThreadError,
  siblingModule,
  startModuleWorker,
  type ThreadError,
} from '../../shared/module-worker.js';
import { type PackedFixes, packFixes } from './fix-columns.js';

export interface WriterStart {
  path: string;
  /** ThreadWriteLock.create()'s buffer, the same one the process's other stores of `path` hold. */
  writeLock: SharedArrayBuffer;
}

export type WriterRequest = { id: number; op: 'write'; fixes: PackedFixes } | { id: number; op: 'close' };
export type WriterMessage =
  | { type: 'ready' }
  | { type: 'openFailed'; error: ThreadError }
  | { type: 'reply'; id: number; ok: true; result: number }
  | { type: 'reply'; id: number; ok: false; error: ThreadError };

interface Pending {
  resolve(n: number): void;
  reject(e: Error): void;
}

export class SqliteWriterThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Why no more writes are taken: the thread died, or close() was called. */
  private gone: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {}

  /**
   * Resolves once the thread has the file open (and migrated: idempotent, the caller's store did
   * it already), or rejects with the thread's reason. `onDied`: the thread died after starting
   * (not by close()); it may have died holding the write lock, which only the process ending frees.
   */
  static start(o: WriterStart & { onDied?: (e: Error) => void }): Promise<SqliteWriterThread> {
    const worker = startModuleWorker(siblingModule(import.meta.url, 'sqlite-writer-worker'), {
      workerData: { path: o.path, writeLock: o.writeLock } satisfies WriterStart,
    });
    const thread = new SqliteWriterThread(worker);
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (m: WriterMessage) => {
        if (m.type === 'ready') {
          started = true;
          thread.idle();
          resolve(thread);
        } else if (m.type === 'openFailed') {
          thread.gone = reviveThreadError(m.error);
          void worker.terminate();
          reject(thread.gone);
        } else {
          thread.settle(m);
        }
      });
      const died = (why: string) => {
        // A crash is an 'error' then an 'exit': one report. After close(), the exit is expected.
        if (thread.gone) return;
        const e = new Error(`the SQLite writer thread died: ${why}`);
        thread.fail(e);
        if (!started) reject(e);
        else o.onDied?.(e);
      };
      worker.on('error', (e) => died(e.message));
      worker.on('exit', (code) => died(`it exited (code ${code})`));
    });
  }

  /** SqliteStore.writeFixes on the thread: how many fixes were new. Requests run one at a time, in order. */
  writeFixes(fixes: readonly Fix[]): Promise<number> {
    if (this.gone) return Promise.reject(this.gone);
    if (this.closing) return Promise.reject(new Error('the SQLite writer thread is closing'));
    if (fixes.length === 0) return Promise.resolve(0);
    const { packed, transferList } = packFixes(fixes);
    return this.ask({ id: this.nextId++, op: 'write', fixes: packed }, transferList);
  }

  /** Waits for the writes in flight, closes the database in the thread, ends the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.gone) {
        try {
          await this.ask({ id: this.nextId++, op: 'close' });
        } finally {
          this.gone ??= new Error('the SQLite writer thread is closed');
          await this.worker.terminate();
        }
      }
    })();
    return this.closing;
  }

  /**
   * Ends the thread at once, as a crash would (tests). Writes in flight are abandoned; one that
   * held the write lock leaves it held.
   */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private ask(r: WriterRequest, transferList: ArrayBuffer[] = []): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.set(r.id, { resolve, reject });
      // Only while there is work: an idle thread does not keep the process alive by itself.
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage(r, transferList);
    });
  }

  private settle(m: Extract<WriterMessage, { type: 'reply' }>): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.idle();
    if (m.ok) p.resolve(m.result);
    else p.reject(reviveThreadError(m.error));
  }

  private idle(): void {
    if (this.pending.size === 0) this.worker.unref();
  }

  private fail(e: Error): void {
    this.gone ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
