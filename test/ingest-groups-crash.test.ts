// kill -9 at arbitrary moments: an ingest process (fix-store + trips, SQLite) is killed again and
// again while it consumes, then restarted; in the end every fix is stored once and the trip days
// equal one in-order pass.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { SqliteStore } from '../ingest/db/sqlite.js';
import { accumulate, type TripDay } from '../ingest/trips/accumulate.js';
import { encodeFix } from '../shared/fixcodec.js';
import { makeFix } from './helpers/ingest-backends.js';
import { committed, startTestBroker, waitFor } from './helpers/ingest-kafka.js';

const TOPIC = 'gps.fixes';
const DEVICES = 40;
const PER_DEVICE = 500;

function rows(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM fixes').get() as { n: number }).n;
  } catch {
    return 0; // schema not there yet
  } finally {
    db.close();
  }
}

t.test('SIGKILL during consumption, four times: every fix once, trips as in order', async (t) => {
  const k = await startTestBroker();
  const dir = mkdtempSync(join(tmpdir(), 'ingest-crash-'));
  const dbPath = join(dir, 'ingest.db');
  let child: ReturnType<typeof spawn> | undefined;
  t.teardown(async () => {
    child?.kill('SIGKILL');
    await k.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await k.createTopic(TOPIC, 6);
  for (let seq = 1; seq <= PER_DEVICE; seq += 50) {
    const messages = [];
    for (let s = seq; s < seq + 50; s++) {
      for (let d = 0; d < DEVICES; d++) {
        messages.push({ key: `r${d}`, value: encodeFix(makeFix(`r${d}`, s)) });
      }
    }
    await k.producer.send({ topic: TOPIC, messages });
  }
  const total = DEVICES * PER_DEVICE;
  const start = () => {
    const c = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'ingest/main.ts',
        'run',
        '--groups',
        'fix-store,trips',
        '--no-http',
        '--flush-rows',
        '300',
      ],
      {
        env: {
          ...process.env,
          KAFKA_BROKERS: k.address,
          INGEST_SQLITE_PATH: dbPath,
          INGEST_SESSION_TIMEOUT_MS: '6000',
          LOG_LEVEL: 'warn',
        },
        stdio: 'ignore',
      },
    );
    return c;
  };
  const kills: number[] = [];
  for (let i = 0; i < 4; i++) {
    child = start();
    const before = kills.at(-1) ?? 0;
    // Kill as soon as this run has stored something new: mid-stream, batches in flight.
    const seen = await waitFor(() => {
      let n = 0;
      try {
        n = rows(dbPath);
      } catch {
        return undefined; // file not created yet
      }
      return n > before || n >= total ? n : undefined;
    }, 20);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    kills.push(seen);
    if (seen >= total) break;
  }
  t.ok(kills.length >= 2, `killed at ${kills.join(', ')} of ${total} rows`);
  child = start();
  await waitFor(() => (rows(dbPath) >= total ? true : undefined), 100);
  const ends = await k.admin.fetchTopicOffsets(TOPIC);
  await waitFor(async () => {
    const c = await committed(k.admin, 'trips', TOPIC);
    return ends.every((e) => c.get(e.partition) === Number(e.high)) ? true : undefined;
  }, 100);
  child.kill('SIGTERM');
  await new Promise((r) => child!.once('exit', r));

  const store = new SqliteStore(dbPath);
  await store.migrate();
  t.teardown(() => store.close());
  t.equal(rows(dbPath), total, 'every fix exactly once');
  const devices = await store.devices();
  t.ok(
    devices.length === DEVICES && devices.every((d) => d.fixCount === PER_DEVICE && d.gaps.length === 0),
    'device counters agree with the rows',
  );
  for (const d of [0, 13, 39]) {
    const days = new Map<string, TripDay>();
    accumulate(
      `r${d}`,
      null,
      Array.from({ length: PER_DEVICE }, (_, i) => makeFix(`r${d}`, i + 1)),
      days,
    );
    const want = [...days.values()];
    const got = await store.trips(`r${d}`);
    t.equal(got.length, want.length);
    t.equal(got[0]?.fixes, want[0]!.fixes, `r${d}: each fix folded once`);
    t.ok(Math.abs(got[0]!.distanceM - want[0]!.distanceM) < 1e-6, `r${d}: distance ${got[0]!.distanceM}`);
  }
});
