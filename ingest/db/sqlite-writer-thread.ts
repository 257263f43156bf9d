// The SQLite writer thread: one SqliteStore that takes every write of a ThreadedSqliteStore
// (migrate, writeFixes, applyTrips) in the order the main thread sent them; see sqlite-writer.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { unpackFixes } from './fix-columns.js';
import { SqliteStore } from './sqlite.js';
import type { ThreadError, WriterReply, WriterRequest } from './sqlite-writer.js';

const port = parentPort;
if (!port) throw new Error('sqlite-writer-thread.ts runs as a worker thread (see sqlite-writer.ts)');

// A file that cannot be opened fails the first request with SQLite's own message, like a
// store on the main thread would, instead of killing the thread.
let db: SqliteStore | undefined;
let openError: unknown;
try {
  db = new SqliteStore((workerData as { path: string }).path);
} catch (e) {
  openError = e;
}

function run(req: WriterRequest): Promise<unknown> {
  if (!db) {
    // Nothing was opened, so closing has nothing to do; everything else fails as the open did.
    if (req.op === 'close') return Promise.resolve();
    throw openError;
  }
  switch (req.op) {
    case 'migrate':
      return db.migrate();
    case 'ping':
      return db.ping();
    case 'close':
      return db.close();
    case 'writeFixes':
      return db.writeFixes(unpackFixes(req.fixes));
    case 'applyTrips':
      return db.applyTrips(unpackFixes(req.fixes));
  }
}

function threadError(e: unknown): ThreadError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const code = (e as { code?: unknown }).code;
  return {
    name: e.name,
    message: e.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(e.stack !== undefined ? { stack: e.stack } : {}),
  };
}

port.on('message', (req: WriterRequest) => {
  // Requests start in arrival order; SqliteStore's mutex keeps a transaction that awaits
  // (applyTrips) from interleaving with the next one.
  const reply = (r: WriterReply) => port.postMessage(r);
  Promise.resolve()
    .then(() => run(req))
    .then(
      (result) => reply({ id: req.id, ok: true, result }),
      (e: unknown) => reply({ id: req.id, ok: false, error: threadError(e) }),
    );
});
