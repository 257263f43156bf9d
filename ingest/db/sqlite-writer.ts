// The main thread's side of the SQLite writer thread (sqlite-writer-thread.ts), used by
// ThreadedSqliteStore (sqlite-threaded.ts says why): requests go out in call order with an id,
// replies come back with it; a thread that dies fails what is in flight and every later call.
import { Worker } from 'node:worker_threads';
import { type FixColumns, transferables } from './fix-columns.js';
import type { TripApplyResult } from './store.js';

type WriterCall =
  | { op: 'migrate' | 'ping' | 'close' }
  | { op: 'writeFixes' | 'applyTrips'; fixes: FixColumns };
export type WriterRequest = WriterCall & { id: number };

/** An error crosses the thread boundary as its parts; `code` keeps isDataError() (errors.ts) working. */
export interface ThreadError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type WriterReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: ThreadError };

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

// The thread runs the same source as this file: .ts under tsx (npm run ingest, the tests), .js
// when compiled. A worker does inherit `--import tsx`, but on Node 20 its entry module is
// resolved before tsx's hooks are in place ("Unknown file extension .ts"), so a TypeScript entry
// is loaded from a one-line script that registers tsx first.
function startThread(path: string): Worker {
  const workerData = { path };
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./sqlite-writer-thread.js', import.meta.url), { workerData });
  }
  const entry = JSON.stringify(new URL('./sqlite-writer-thread.ts', import.meta.url).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return new Worker(`import(${tsx}).then((t) => { t.register(); return import(${entry}); });`, {
    eval: true,
    workerData,
  });
}

function revive(e: ThreadError): Error {
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

export class SqliteWriter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once the thread is gone: every call after it fails with this. */
  private gone: Error | undefined;

  constructor(path: string) {
    this.worker = startThread(path);
    // Referenced only while a request is in flight: an idle store never keeps the process alive,
    // and an awaited write always does.
    this.worker.unref();
    this.worker.on('message', (r: WriterReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.settled(r.id);
      if (r.ok) p.resolve(r.result);
      else p.reject(revive(r.error));
    });
    this.worker.on('error', (e) => this.fail(new Error(`SQLite writer thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`SQLite writer thread exited (code ${code})`)));
  }

  migrate = (): Promise<void> => this.call({ op: 'migrate' }) as Promise<void>;
  ping = (): Promise<void> => this.call({ op: 'ping' }) as Promise<void>;
  writeFixes = (fixes: FixColumns): Promise<number> =>
    this.call({ op: 'writeFixes', fixes }, transferables(fixes)) as Promise<number>;
  applyTrips = (fixes: FixColumns): Promise<TripApplyResult> =>
    this.call({ op: 'applyTrips', fixes }, transferables(fixes)) as Promise<TripApplyResult>;

  /** Closes the database (after the writes already asked for) and ends the thread. */
  async close(): Promise<void> {
    if (this.gone) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      this.gone ??= new Error('SQLite store closed');
      await this.worker.terminate();
    }
  }

  private call(req: WriterCall, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      const msg: WriterRequest = { ...req, id };
      this.worker.postMessage(msg, transfer);
    });
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  private fail(e: Error): void {
    this.gone ??= e;
    for (const [id, p] of this.pending) {
      this.settled(id);
      p.reject(e);
    }
  }
}
