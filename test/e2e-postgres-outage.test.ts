// PostgreSQL going away under a running ingest, for real: the server kills the ingest's
// connections (pg_terminate_backend, as a failover, a restart or an idle-connection reaper does),
// several times while fixes flow, and then refuses new ones for a while (ALLOW_CONNECTIONS false:
// what the ingest sees while the database is down). The ingest must ride through it without
// exiting, say so on /healthz (503 naming the database) and recover by itself, and the database
// must end with each fix once: in `fixes`, in the devices' counts (folded in the same transaction
// as the insert, so a commit whose answer was lost and then retried must not count twice), and in
// the trips' per-day fix counts.
import { join } from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';

import { PG_URL, pgUrlFor } from './helpers/ingest-backends.js';
import { startIngestChild } from './helpers/ingest-child.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { eventually, settleAndCheck, sleep, withStack } from './helpers/stack.js';

const DB = `ingest_outage_${process.pid}_${Date.now().toString(36)}`;
const dbUrl = (name = DB) => pgUrlFor(name);

/** Terminates every connection to a database of the test; returns how many there were. */
async function killConnections(admin: pg.Client, db = DB): Promise<number> {
  const r = await admin.query(
    'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1',
    [db],
  );
  return Number(r.rows[0].n);
}

/** A database of its own (the tests turn its connections off), dropped at the end. */
async function ownDatabase(t: Test, name: string): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  t.teardown(async () => {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await killConnections(admin, name).catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  });
  return admin;
}

t.test(
  'PostgreSQL kills the ingest connections and refuses new ones: no exit, no loss, nothing doubled',
  async (t) => {
    const admin = await ownDatabase(t, DB);
    const reader = new pg.Pool({ connectionString: dbUrl(), max: 1 });
    reader.on('error', () => undefined);
    t.teardown(() => reader.end());

    await withStack(t, async (stack) => {
      const track = join(stack.dir, 'track.nmea');
      writeNmeaTrack(track, { epochs: 1500, startMs: Date.UTC(2026, 10, 25, 9, 0, 0) });
      const devices = ['rider-p1', 'rider-p2', 'rider-p3'];
      await stack.startBroker();
      await stack.startIngest('ingest', {
        DATABASE_URL: dbUrl(),
        INGEST_GROUPS: 'fix-store,trips,live',
        // Small flushes: a kill lands inside a transaction or on its COMMIT often.
        INGEST_FLUSH_ROWS: '100',
        INGEST_FLUSH_MS: '50',
      });
      for (const id of devices) stack.startAgent(id, { file: track, speed: 100 });
      const health = async () => {
        const res = await fetch(`http://127.0.0.1:${stack.httpPort}/healthz`);
        return {
          status: res.status,
          checks: ((await res.json()) as { checks: Record<string, string> }).checks,
        };
      };

      // Connections killed while the groups write (a round may find none open: the last one's are
      // still being replaced). Rounds go on until four were killed, for up to 40 s: on a loaded
      // machine twelve rounds were over before the ingest had made more than one (QA, load 17).
      let killed = 0;
      for (let round = 0; round < 40 && (round < 4 || killed < 4); round++) {
        await sleep(700 + Math.random() * 600);
        killed += await killConnections(admin);
      }
      t.ok(killed >= 4, `${killed} ingest connections terminated by the server`);

      // The database down: no connection accepted for a while.
      await admin.query(`ALTER DATABASE ${DB} ALLOW_CONNECTIONS false`);
      await killConnections(admin);
      let down: { status: number; checks: Record<string, string> } | undefined;
      t.ok(
        await eventually(async () => {
          down = await health();
          return down.status === 503 && down.checks['database'] !== 'ok';
        }, 20_000),
        `/healthz says the database is down: ${JSON.stringify(down?.checks)}`,
      );
      await sleep(2000);
      t.ok(stack.running('ingest'), 'the ingest is still running with the database down');
      await admin.query(`ALTER DATABASE ${DB} ALLOW_CONNECTIONS true`);
      t.ok(
        await eventually(async () => (await health()).status === 200, 30_000),
        'ready again by itself once the database accepts connections',
      );

      for (const id of devices) t.equal(await stack.exited(`agent-${id}`), 0, `${id} finished cleanly`);
      const seqsOf = async (id: string) =>
        (
          await reader
            .query<{ seq: string }>('SELECT seq FROM fixes WHERE device_id = $1 ORDER BY seq', [id])
            .catch(() => ({ rows: [] }))
        ).rows.map((r) => Number(r.seq));
      await settleAndCheck(t, stack, devices, 90_000, seqsOf);

      const writeErrors = await fetch(`http://127.0.0.1:${stack.httpPort}/metrics`, {
        headers: { authorization: `Bearer ${stack.token}` },
      }).then((r) => r.text());
      const failedFlushes = [...writeErrors.matchAll(/^ingest_sink_errors_total\{group="([^"]+)"\} (\d+)/gm)];
      t.ok(
        failedFlushes.some(([, g, n]) => g === 'fix-store' && Number(n) > 0),
        `the faults hit fix-store's writes (${failedFlushes.map(([, g, n]) => `${g} ${n}`).join(', ')})`,
      );

      // Counts kept beside the fixes match the fixes, once the trips group has caught up too.
      const counts = async () =>
        (
          await reader.query<{ device_id: string; stored: string; counted: string; in_trips: string | null }>(
            `SELECT d.device_id, (SELECT count(*) FROM fixes f WHERE f.device_id = d.device_id) AS stored,
             d.fix_count AS counted,
             (SELECT sum(fixes) FROM trip_days td WHERE td.device_id = d.device_id) AS in_trips
           FROM devices d ORDER BY d.device_id`,
          )
        ).rows;
      await eventually(async () => (await counts()).every((r) => r.in_trips === r.stored), 60_000);
      const rows = await counts();
      t.same(
        rows.map((r) => r.device_id),
        devices,
      );
      for (const r of rows) {
        t.equal(
          r.counted,
          r.stored,
          `${r.device_id}: devices.fix_count equals the fixes stored (${r.stored})`,
        );
        t.equal(r.in_trips, r.stored, `${r.device_id}: the trips counted each stored fix once`);
      }
      t.ok(stack.running('ingest'), 'the ingest never exited');
    });
  },
);

t.test(
  'started while the database is down, the ingest waits for it; one that does not exist is refused in one line',
  async (t) => {
    const name = `${DB}_start`;
    const admin = await ownDatabase(t, name);
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    // Kafka away too (nothing listens on port 1): that is waited for in the background.
    const env = { KAFKA_BROKERS: '127.0.0.1:1', INGEST_TOKEN: 'outage-token-0123456789' };
    const child = startIngestChild(['run', '--no-http'], { ...env, DATABASE_URL: dbUrl(name) });
    t.teardown(() => void child.proc.kill('SIGKILL'));
    const waits = () => child.lines.filter((l) => l.msg === 'database not reachable; waiting for it');
    t.ok(
      await eventually(() => waits().length >= 3, 30_000),
      `${waits().length} attempts logged while it waits`,
    );
    t.match(waits()[0], { level: 40, backend: 'postgres', reason: /not currently accepting connections/ });
    t.equal(child.exit(), null, 'still running, not exited');

    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    t.ok(
      await eventually(() => child.lines.some((l) => l.msg === 'ingest running'), 30_000),
      'running once the database accepts connections',
    );
    const db = new pg.Client({ connectionString: dbUrl(name) });
    await db.connect();
    const applied = await db.query('SELECT count(*)::int AS n FROM schema_migrations');
    await db.end();
    t.ok(applied.rows[0].n > 0, 'its migrations ran then');
    child.proc.kill('SIGTERM');
    await child.exited;
    t.equal(child.exit(), 0, 'stops cleanly');

    // No wait fixes a database that does not exist: refused at once, in one line, exit 1.
    const missing = startIngestChild(['run', '--no-http'], {
      ...env,
      DATABASE_URL: dbUrl(`${name}_missing`),
    });
    t.teardown(() => void missing.proc.kill('SIGKILL'));
    await missing.exited;
    t.equal(missing.exit(), 1);
    t.match(
      missing.stderr(),
      /^ingest: cannot open the PostgreSQL database \(DATABASE_URL, schema public\): database "\w+_missing" does not exist\n$/,
      'one line saying what and why, no stack trace',
    );
    t.ok(
      missing.lines.some((l) => l.level === 60 && /does not exist/.test(String(l.msg))),
      'and the same in the log, for the journal',
    );
  },
);
