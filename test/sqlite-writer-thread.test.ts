// ingest/db/sqlite-writer-thread.ts: SqliteStore.writeFixes's contract, kept with the writes on a
// thread of their own, sharing the file (and its write lock) with a store on the main thread.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { isDataError } from '../ingest/db/errors.js';
import { SqliteStore } from '../ingest/db/sqlite.js';
import { SqliteWriterThread } from '../ingest/db/sqlite-writer-thread.js';
import { ThreadWriteLock } from '../ingest/db/thread-write-lock.js';
import { makeFix } from './helpers/ingest-backends.js';

const ALL = Number.MAX_SAFE_INTEGER;

/** A migrated main-thread store and a writer thread on one temp file, one lock. */
async function setUp(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-writer-'));
  const path = join(dir, 'fixes.db');
  const writeLock = ThreadWriteLock.create();
  const store = new SqliteStore(path, { writeLock });
  await store.migrate();
  const died: Error[] = [];
  const writer = await SqliteWriterThread.start({ path, writeLock, onDied: (e) => died.push(e) });
  t.teardown(async () => {
    await writer.close().catch(() => undefined);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, writeLock, store, writer, died };
}

/** Holds the process's write lock from the main thread until the returned release() is called. */
function holdLock(writeLock: SharedArrayBuffer) {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let acquired!: () => void;
  const isHeld = new Promise<void>((r) => (acquired = r));
  const done = new ThreadWriteLock(writeLock).run(async () => {
    acquired();
    await held;
  });
  return {
    isHeld,
    release: () => {
      release();
      return done;
    },
  };
}

t.test('writes land in the file, counted as the store counts them', async (t) => {
  const { store, writer } = await setUp(t);
  const batch = [1, 2, 3].map((s) => makeFix('w', s, { alt: -3.5, sats: 7 }));
  t.equal(await writer.writeFixes(batch), 3, 'all new');
  t.equal(await writer.writeFixes(batch), 0, 'redelivery: none new');
  t.equal(await writer.writeFixes([makeFix('w', 3), makeFix('w', 4), makeFix('w', 4)]), 1, 'only seq 4');
  t.equal(await writer.writeFixes([]), 0);
  const stored = await store.track('w', 0, ALL, 100);
  t.same(
    stored.map((f) => f.seq),
    [1, 2, 3, 4],
    'each fix once, read back by the main thread',
  );
  t.match(stored[0], { alt: -3.5, sats: 7, mode: 3 });
  const devices = (await store.fleet()).stored;
  t.match(devices, [{ deviceId: 'w', fixCount: 4 }], 'the device row counts each fix once');
});

t.test('a fix SQLite refuses is a data error, and the thread goes on', async (t) => {
  const { writer, store } = await setUp(t);
  // NaN binds as NULL: the NOT NULL constraint on lat refuses it, as it would on the main thread.
  const refused = await writer.writeFixes([makeFix('bad', 1, { lat: Number.NaN })]).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(refused, { code: 'SQLITE_CONSTRAINT_NOTNULL', message: /NOT NULL constraint failed: fixes\.lat/ });
  t.ok(isDataError(refused), "isDataError: the row's fault, dead-lettered by the consumer");
  t.equal(await writer.writeFixes([makeFix('bad', 2)]), 1, 'the next batch is written');
  t.same(
    (await store.track('bad', 0, ALL, 10)).map((f) => f.seq),
    [2],
    'nothing of the refused batch stayed',
  );
});

t.test(
  'the thread takes the process write lock; the main store writes meanwhile without SQLITE_BUSY',
  async (t) => {
    const { writer, store, writeLock } = await setUp(t);
    const hold = holdLock(writeLock);
    await hold.isHeld;
    let written = false;
    const write = writer.writeFixes([makeFix('locked', 1)]).then((n) => {
      written = true;
      return n;
    });
    await new Promise((r) => setTimeout(r, 200));
    t.notOk(written, 'the thread waits while another thread holds the lock');
    await hold.release();
    t.equal(await write, 1, 'and writes once it is free');

    // Both sides writing as fast as they can, many rounds.
    const rounds = 50;
    const results = await Promise.all([
      ...Array.from({ length: rounds }, (_, i) =>
        writer.writeFixes(Array.from({ length: 200 }, (_, j) => makeFix(`busy-${j % 10}`, i * 200 + j + 1))),
      ),
      ...Array.from({ length: rounds }, (_, i) =>
        store.writeRejected([{ deviceId: 'refused', seq: i + 1, reason: 'test' }]),
      ),
    ]);
    t.equal(
      results.slice(0, rounds).reduce((a, b) => a + b, 0),
      rounds * 200,
      'every fix written',
    );
    t.equal(
      results.slice(rounds).reduce((a, b) => a + b, 0),
      rounds,
      'every rejection written',
    );
  },
);

t.test('a file that cannot be opened: start() rejects and says why', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-writer-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'missing', 'fixes.db');
  await t.rejects(
    SqliteWriterThread.start({ path, writeLock: ThreadWriteLock.create() }),
    new RegExp(`cannot open the SQLite database ${path}: the directory .*missing does not exist`),
  );
  await t.rejects(
    SqliteWriterThread.start({ path: dir, writeLock: ThreadWriteLock.create() }),
    /cannot open the SQLite database .*: it is a directory/,
  );
});

t.test('a thread that dies fails the write in flight and every later one', async (t) => {
  const { writer, writeLock, died } = await setUp(t);
  t.equal(await writer.writeFixes([makeFix('d', 1)]), 1);
  // Held here, the write below is surely still in the thread when it dies.
  const hold = holdLock(writeLock);
  await hold.isHeld;
  const inFlight = writer.writeFixes([makeFix('d', 2)]);
  await new Promise((r) => setTimeout(r, 50));
  await writer.terminate();
  await t.rejects(inFlight, /the SQLite writer thread died: it exited \(code 1\)/);
  await t.rejects(writer.writeFixes([makeFix('d', 3)]), /the SQLite writer thread died/);
  t.equal(died.length, 1, 'the owner is told once');
  await hold.release();
  await writer.close();
});

t.test('close() waits for the writes in flight, then takes no more', async (t) => {
  const { writer, store } = await setUp(t);
  const writes = [1, 2, 3].map((i) => writer.writeFixes([makeFix('c', i)]));
  await writer.close();
  t.same(await Promise.all(writes), [1, 1, 1], 'written before close resolved');
  t.same(
    (await store.track('c', 0, ALL, 10)).map((f) => f.seq),
    [1, 2, 3],
  );
  await t.rejects(writer.writeFixes([makeFix('c', 4)]), /the SQLite writer thread is closed/);
  await writer.close();
});
