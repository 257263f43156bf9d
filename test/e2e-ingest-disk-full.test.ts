// The ingest's disk filling up, for real: the ingest process runs under a file-size limit
// (ulimit -f), so once its SQLite database and WAL reach it every write fails with EFBIG, as on
// a full disk. Flushes must fail without committing offsets, the process must stay up (not die of
// SIGXFSZ, not give up), and once the limit is lifted from outside (prlimit, as an operator
// freeing space) everything produced meanwhile must be stored, each fix once, in `fixes` and in
// the trips' per-day counts. Meanwhile /healthz must say so: the database still opens and answers
// and the consumers stay joined, so only the failing flushes tell.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { logLevel } from 'kafkajs';
import t from 'tap';
import { encodeFix } from '../shared/fixcodec.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { makeFix } from './helpers/ingest-backends.js';
import { eventually, withStack } from './helpers/stack.js';

const DEVICES = Array.from({ length: 20 }, (_, i) => `disk-${String(i).padStart(2, '0')}`);
const PER_DEVICE = 2000;

t.test(
  'a full disk under the ingest: flushes fail and are retried, nothing lost or doubled once there is room',
  (t) =>
    withStack(t, async (stack) => {
      await stack.startBroker();
      // About 1.5 MB: the schema and a few thousand fixes fit, the 40,000 produced below do not.
      await stack.startIngest(
        'ingest',
        { INGEST_GROUPS: 'fix-store,trips', INGEST_FLUSH_ROWS: '500' },
        { fileSizeLimitKb: 1536 },
      );
      const kafka = kafkaClient({
        clientId: 'disk-full',
        brokers: [stack.brokers],
        logLevel: logLevel.NOTHING,
      });
      const producer = kafka.producer();
      await producer.connect();
      t.teardown(() => producer.disconnect());
      for (let from = 1; from <= PER_DEVICE; from += 250) {
        const messages = DEVICES.flatMap((id) =>
          Array.from({ length: 250 }, (_, i) => {
            const f = makeFix(id, from + i);
            return { key: id, value: encodeFix(f) };
          }),
        );
        await producer.send({ topic: 'gps.fixes', acks: -1, messages });
      }

      const log = () => readFileSync(join(stack.dir, 'logs', 'ingest.log'), 'utf8');
      const failures = () => log().match(/sink flush failed/g)?.length ?? 0;
      const stored = () => DEVICES.reduce((n, id) => n + stack.storedSeqs(id).length, 0);
      t.ok(
        await eventually(() => failures() >= 5, 60_000),
        `flushes fail once the disk is full (${failures()})`,
      );
      const before = stored();
      t.ok(
        before > 0 && before < DEVICES.length * PER_DEVICE,
        `${before} fixes stored before the disk filled`,
      );
      t.match(log(), /SQLITE_(FULL|IOERR)/, 'the log names the write error');
      t.ok(stack.running('ingest'), 'the ingest is still running with its disk full');
      const health = async () => {
        const res = await fetch(`http://127.0.0.1:${stack.httpPort}/healthz`);
        return {
          status: res.status,
          checks: ((await res.json()) as { checks: Record<string, string> }).checks,
        };
      };
      let full: Awaited<ReturnType<typeof health>> | undefined;
      const bothFailing = async () => {
        full = await health();
        return (
          full.status === 503 &&
          full.checks['group:fix-store'] !== 'ok' &&
          full.checks['group:trips'] !== 'ok'
        );
      };
      t.ok(
        await eventually(bothFailing, 60_000),
        `/healthz is 503 while the flushes fail: ${JSON.stringify(full?.checks)}`,
      );
      for (const g of ['fix-store', 'trips']) {
        t.match(
          full?.checks[`group:${g}`],
          /^error: flushes failing for \d+ s \((none|\d+ of \d+) succeeded\): .*(SQLITE_FULL|SQLITE_IOERR|disk|full|I\/O)/i,
          `the ${g} check says why`,
        );
      }
      t.equal(
        full?.checks['database'],
        'ok',
        'the database itself still answers: that check alone missed it',
      );

      // Room again: the operator frees space (here: lifts the limit of the running process).
      execFileSync('prlimit', ['--pid', String(stack.pid('ingest')), '--fsize=unlimited:']);
      const total = DEVICES.length * PER_DEVICE;
      t.ok(
        await eventually(() => stored() >= total, 120_000),
        `every fix stored once there is room (${stored()})`,
      );
      t.ok(await eventually(async () => (await health()).status === 200, 60_000), '/healthz is 200 again');

      const db = new Database(stack.ingestDb, { readonly: true });
      t.teardown(() => db.close());
      const perDevice = db
        .prepare(
          `SELECT device_id, count(*) AS n, count(DISTINCT seq) AS distinct_seqs, min(seq) AS lo, max(seq) AS hi
         FROM fixes GROUP BY device_id ORDER BY device_id`,
        )
        .all() as { device_id: string; n: number; distinct_seqs: number; lo: number; hi: number }[];
      t.same(
        perDevice,
        DEVICES.map((id) => ({
          device_id: id,
          n: PER_DEVICE,
          distinct_seqs: PER_DEVICE,
          lo: 1,
          hi: PER_DEVICE,
        })),
        'each device: seqs 1..2000, each once',
      );
      const tripCounts = () =>
        db
          .prepare('SELECT device_id, sum(fixes) AS n FROM trip_days GROUP BY device_id ORDER BY device_id')
          .all() as { device_id: string; n: number }[];
      await eventually(
        () => tripCounts().every((r) => r.n === PER_DEVICE) && tripCounts().length === DEVICES.length,
        60_000,
      );
      t.same(
        tripCounts(),
        DEVICES.map((id) => ({ device_id: id, n: PER_DEVICE })),
        'the trips counted each fix once',
      );
      t.ok(stack.running('ingest'), 'the ingest never exited');
    }),
);
