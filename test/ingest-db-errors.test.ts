// ingest/db/errors.ts sorts real database errors: the data's fault (dead-letter the row), the
// database away for now (wait, retry), or neither (refuse with the reason). Each error here is
// produced for real by the PostgreSQL server on 127.0.0.1 or by SQLite, not built by hand.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import t from 'tap';
import { isDatabaseAway, isDataError } from '../ingest/db/errors.js';
import { PG_URL, pgUrlFor } from './helpers/ingest-backends.js';

async function errorOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

async function connectError(url: string): Promise<unknown> {
  const c = new pg.Client({ connectionString: url });
  return errorOf(async () => {
    try {
      await c.connect();
    } finally {
      await c.end().catch(() => undefined);
    }
  });
}

t.test('PostgreSQL: away for now, or refused for good', async (t) => {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  t.teardown(() => admin.end());

  const refused = await connectError(pgUrlFor('test', 1));
  t.match(refused, { code: 'ECONNREFUSED' });
  t.ok(isDatabaseAway(refused), 'nothing listening: away');

  const missing = await connectError(pgUrlFor(`no_such_db_${process.pid}`));
  t.match(missing, { code: '3D000' });
  t.notOk(isDatabaseAway(missing), 'a database that does not exist: no wait fixes it');

  const closed = `errors_closed_${process.pid}`;
  await admin.query(`CREATE DATABASE ${closed} ALLOW_CONNECTIONS false`);
  t.teardown(() => admin.query(`DROP DATABASE IF EXISTS ${closed}`));
  const notAccepting = await connectError(pgUrlFor(closed));
  t.match(notAccepting, { code: '55000', message: /not currently accepting connections/ });
  t.ok(isDatabaseAway(notAccepting), 'not accepting connections (maintenance): away');

  // A session the server terminates in the middle of a query (failover, restart, a reaper).
  const victim = new pg.Client({ connectionString: PG_URL });
  victim.on('error', () => undefined);
  await victim.connect();
  const pid = (await victim.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const sleeping = errorOf(() => victim.query('SELECT pg_sleep(30)'));
  await new Promise((r) => setTimeout(r, 200));
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  const terminated = await sleeping;
  await victim.end().catch(() => undefined);
  t.match(terminated, { code: '57P01' });
  t.ok(isDatabaseAway(terminated), 'terminated by the server: away');
  t.notOk(isDataError(terminated));

  const schema = `errors_${process.pid}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  t.teardown(() => admin.query(`DROP SCHEMA ${schema} CASCADE`));
  await admin.query(`CREATE TABLE ${schema}.k (id int PRIMARY KEY)`);
  await admin.query(`INSERT INTO ${schema}.k VALUES (1)`);
  const duplicate = await errorOf(() => admin.query(`INSERT INTO ${schema}.k VALUES (1)`));
  t.match(duplicate, { code: '23505' });
  t.ok(isDataError(duplicate), "a constraint violation is the row's fault");
  t.notOk(isDatabaseAway(duplicate));
  const noTable = await errorOf(() => admin.query(`SELECT * FROM ${schema}.nope`));
  t.match(noTable, { code: '42P01' });
  t.notOk(isDatabaseAway(noTable), 'a missing table: neither');
  t.notOk(isDataError(noTable));
});

t.test('SQLite: a file that cannot be opened is not waited for', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'db-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cannotOpen = await errorOf(async () => new Database(join(dir, 'no', 'such', 'dir', 'x.db')));
  t.match(cannotOpen, { message: /directory does not exist/ });
  t.notOk(isDatabaseAway(cannotOpen));
  t.notOk(isDataError(cannotOpen));
});
