// The SQLite writer thread (sqlite-writer-thread.ts says why): its own SqliteStore on the file,
// taking the process's write lock like every other store of it, writing the batches it is handed.
import { parentPort, workerData } from 'node:worker_threads';
import { toThreadError } from '../../shared/module-worker.js';
import { whySqliteNotOpened } from '../../shared/sqlite-open-error.js';
import { unpackFixes } from './fix-columns.js';
import { SqliteStore } from './sqlite.js';
import type { WriterMessage, WriterRequest, WriterStart } from './sqlite-writer-thread.js';

const port = parentPort;
if (!port) throw new Error('sqlite-writer-worker.ts runs as a worker thread (see sqlite-writer-thread.ts)');
const o = workerData as WriterStart;
const send = (m: WriterMessage) => port.postMessage(m);

async function open(): Promise<SqliteStore | undefined> {
  let store: SqliteStore;
  try {
    store = new SqliteStore(o.path, { writeLock: o.writeLock });
  } catch (e) {
    const error = toThreadError(e);
    send({
      type: 'openFailed',
      error: {
        ...error,
        message: `cannot open the SQLite database ${o.path}: ${whySqliteNotOpened(o.path, e)}`,
      },
    });
    return undefined;
  }
  try {
    await store.migrate();
    return store;
  } catch (e) {
    await store.close().catch(() => undefined);
    const error = toThreadError(e);
    send({
      type: 'openFailed',
      error: { ...error, message: `cannot open the SQLite database ${o.path}: ${error.message}` },
    });
    return undefined;
  }
}

const store = await open();
if (store) {
  // One request at a time, in the order sent: a write never overtakes the one before it, and
  // close comes after every write sent before it.
  let queue: Promise<unknown> = Promise.resolve();
  const handle = async (r: WriterRequest): Promise<number> => {
    if (r.op === 'write') return store.writeFixes(unpackFixes(r.fixes));
    await store.close();
    return 0;
  };
  port.on('message', (r: WriterRequest) => {
    queue = queue.then(() =>
      handle(r).then(
        (result) => send({ type: 'reply', id: r.id, ok: true, result }),
        (e: unknown) => send({ type: 'reply', id: r.id, ok: false, error: toThreadError(e) }),
      ),
    );
  });
  send({ type: 'ready' });
}
