// The SQLite store with its writes on a thread (ingest/db/sqlite-threaded.ts): what the shared
// store suite (ingest-store.test.ts) cannot show. The event loop keeps turning during a large
// transaction; a file that cannot be opened is an error, not a dead thread; a closed store says
// so; and `ingest run` with live and store groups in one process picks it.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { SqliteStore } from '../ingest/db/sqlite.js';
import { ThreadedSqliteStore } from '../ingest/db/sqlite-threaded.js';
import type { Store } from '../ingest/db/store.js';
import type { Fix } from '../shared/fix.js';
import { makeFix } from './helpers/ingest-backends.js';
import { startIngestChild } from './helpers/ingest-child.js';
import { startTestBroker, waitFor } from './helpers/ingest-kafka.js';

function scratch(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-sqlite-thread-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Longest gap between 1 ms timer ticks while `work` runs: how long the event loop was held. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await work();
  clearInterval(timer);
  return Math.max(longest, performance.now() - last);
}

const fleet = (n: number, devices: number): Fix[] =>
  Array.from({ length: n }, (_, i) => makeFix(`rider-${i % devices}`, 1 + Math.floor(i / devices)));

t.test('a large transaction does not hold the event loop (it does on the store itself)', async (t) => {
  const dir = scratch(t);
  const fixes = fleet(100_000, 200);
  const stalls: Record<string, number> = {};
  for (const [name, store] of [
    ['direct', new SqliteStore(join(dir, 'direct.db'))],
    ['thread', new ThreadedSqliteStore(join(dir, 'thread.db'))],
  ] as [string, Store][]) {
    await store.migrate();
    // Warm both paths up (JIT, page cache) on a small batch first.
    await store.writeFixes(fleet(2000, 200).map((f) => ({ ...f, seq: f.seq + 1_000_000 })));
    stalls[name] = await longestStall(async () => t.equal(await store.writeFixes(fixes), fixes.length));
    await store.close();
  }
  t.comment(
    `longest event-loop stall: direct ${stalls['direct']!.toFixed(1)} ms, thread ${stalls['thread']!.toFixed(1)} ms`,
  );
  // Measured in the same run: the direct store holds the loop for the whole transaction.
  t.ok(stalls['thread']! * 4 < stalls['direct']!, 'the thread holds the loop at most a quarter as long');
});

t.test(
  'a file that cannot be opened rejects migrate with the reason; ping and writes fail too',
  async (t) => {
    const dir = scratch(t);
    // A directory where the database file should be: SQLite cannot open it.
    const path = join(dir, 'is-a-dir.db');
    mkdirSync(path);
    const store = new ThreadedSqliteStore(path);
    await t.rejects(store.migrate(), /unable to open database file|directory/i);
    await t.rejects(store.writeFixes([makeFix('a', 1)]), /unable to open database file|directory/i);
    await store.close();
  },
);

t.test('after close: every call rejects, saying so', async (t) => {
  const dir = scratch(t);
  const store = new ThreadedSqliteStore(join(dir, 'c.db'));
  await store.migrate();
  t.equal(await store.writeFixes([makeFix('a', 1)]), 1);
  await store.close();
  await t.rejects(store.writeFixes([makeFix('a', 2)]), /closed/);
  await t.rejects(store.ping(), /closed/);
  await store.close();
});

t.test('ingest run: live and store groups in one process use the writer thread', async (t) => {
  const k = await startTestBroker();
  const dir = scratch(t);
  await k.createTopic('gps.fixes', 2);
  const runWith = async (groups: string) => {
    const ingest = startIngestChild(['run', '--groups', groups], {
      KAFKA_BROKERS: k.address,
      INGEST_SQLITE_PATH: join(dir, `${groups}.db`),
      INGEST_TOKEN: 'test-token-0123456789abcdef',
      INGEST_HTTP_PORT: '0',
    });
    const running = await waitFor(() => {
      if (ingest.exit() !== null) throw new Error(`ingest exited with ${ingest.exit()}: ${ingest.stderr()}`);
      return ingest.lines.find((l) => l.msg === 'ingest running');
    });
    ingest.proc.kill('SIGTERM');
    await ingest.exited;
    return running['sqliteWriterThread'];
  };
  t.teardown(() => k.stop());
  t.equal(await runWith('fix-store,trips,live'), true, 'all three groups: writes on the thread');
  t.equal(await runWith('fix-store'), false, 'store groups alone: the store itself (less CPU per fix)');
});
