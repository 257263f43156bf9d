// `npm run ingest -- migrate` and the CLI's refusals: one-line errors (exit 2 for bad input, 1 for a
// database that cannot be opened), secrets not echoed.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { Outbox } from '../agent/outbox/outbox.js';
import { migrations } from '../ingest/db/migrations.js';

function ingest(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'ingest/main.ts', ...args],
      { env: { ...process.env, LOG_LEVEL: 'info', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? Number((err as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

t.test('migrate creates the schema once and is repeatable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'x.db');
  for (let i = 0; i < 2; i++) {
    const r = await ingest(['migrate'], { INGEST_SQLITE_PATH: path });
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /schema is up to date/);
  }
  const db = new Database(path, { readonly: true });
  t.same(
    db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(),
    migrations('sqlite').map((m) => ({ version: m.version })),
    'each version applied once',
  );
  db.close();
});

t.test('bad input: exit 2 with one line saying what is wrong', async (t) => {
  const secret = 'mysql://admin:hunter2@db/fleet';
  const bad = await ingest(['migrate'], { DATABASE_URL: secret });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /DATABASE_URL=\(secret value hidden\) is not allowed: expected a postgres/);
  t.notMatch(bad.stderr, /hunter2/, 'the secret is not echoed');

  // A database that cannot be opened: one line naming it and why, exit 1, no stack trace.
  const noDir = await ingest(['migrate'], { INGEST_SQLITE_PATH: '/nonexistent-dir/ingest.db' });
  t.equal(noDir.code, 1);
  t.match(
    noDir.stderr,
    /^ingest: cannot open the SQLite database \/nonexistent-dir\/ingest.db \(INGEST_SQLITE_PATH\): the directory \/nonexistent-dir does not exist\n$/,
  );
  // The journal's line (stdout) says the same and SQLite's own words, without a stack.
  const journal = noDir.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l['level'] === 60);
  t.match(journal, {
    msg: /cannot open the SQLite database/,
    cause: /directory does not exist/,
  });
  t.notMatch(noDir.stdout, /\n\s+at |"stack"/, 'no stack in the log either');
  // SQLite says "unable to open database file" for both; the line says which part is wrong.
  const dir = mkdtempSync(join(tmpdir(), 'ingest-open-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), 'not a directory');
  const isDir = await ingest(['migrate'], { INGEST_SQLITE_PATH: dir });
  t.equal(isDir.code, 1);
  t.match(
    isDir.stderr,
    /^ingest: cannot open the SQLite database .* \(INGEST_SQLITE_PATH\): it is a directory\n$/,
  );
  const underFile = await ingest(['migrate'], { INGEST_SQLITE_PATH: join(dir, 'file', 'ingest.db') });
  t.equal(underFile.code, 1);
  t.match(underFile.stderr, /\(INGEST_SQLITE_PATH\): .*\/file is not a directory\n$/);

  const groups = await ingest(['run', '--groups', 'fix-store,nope'], {});
  t.equal(groups.code, 2);
  t.match(groups.stderr, /unknown group nope; choose from fix-store, trips, live/);

  // Empty, it used to read as not given: every group ran.
  const noGroups = await ingest(['run', '--groups', ''], {});
  t.equal(noGroups.code, 2);
  t.match(noGroups.stderr, /^ingest: --groups "" is empty: give a value, or leave the option out\n$/);

  const flush = await ingest(['run', '--flush-rows', '0'], {});
  t.equal(flush.code, 2);
  t.match(flush.stderr, /--flush-rows "0" is not a positive integer/);

  const cmd = await ingest(['frobnicate'], {});
  t.equal(cmd.code, 2);
  t.match(cmd.stderr, /unknown command "frobnicate"/);

  const help = await ingest(['--help'], {});
  t.equal(help.code, 0);
  t.match(help.stdout, /--groups a,b/);
  t.match(help.stdout, /INGEST_FLUSH_ROWS/);
});

t.test(
  "migrate on another program's SQLite database (an agent outbox) is refused, the file untouched",
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-foreign-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const outbox = join(dir, 'outbox.db');
    new Outbox(outbox).close();
    const r = await ingest(['migrate'], { INGEST_SQLITE_PATH: outbox });
    t.equal(r.code, 1);
    t.match(
      r.stderr,
      /^ingest: cannot open the SQLite database .*outbox\.db \(INGEST_SQLITE_PATH\): it is not an ingest database: it holds other tables \(agent_state, device, fix\) and no schema_migrations\n$/,
    );
    const db = new Database(outbox, { readonly: true });
    t.same(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all(),
      [{ name: 'agent_state' }, { name: 'device' }, { name: 'fix' }],
      'no ingest tables created in it',
    );
    db.close();
  },
);

t.test('run: an HTTP port in use is one line naming the settings, exit 1, no stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-port-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as AddressInfo).port;
  // No broker needed: the groups connect in the background, the HTTP server starts regardless.
  const r = await ingest(['run', '--groups', 'live'], {
    KAFKA_BROKERS: '127.0.0.1:1',
    INGEST_SQLITE_PATH: join(dir, 'x.db'),
    INGEST_TOKEN: 'a-token-of-sixteen-chars',
    INGEST_HTTP_PORT: String(port),
    LOG_LEVEL: 'silent',
  });
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    new RegExp(
      `^ingest: cannot listen on 127\\.0\\.0\\.1:${port} \\(INGEST_HTTP_HOST, INGEST_HTTP_PORT\\): listen EADDRINUSE.*\\n$`,
    ),
  );
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('the default SQLite place works in a fresh checkout: its data folder is made', async (t) => {
  // Run from an empty folder, as a fresh clone has no data/ (only npm start used to make it).
  const cwd = mkdtempSync(join(tmpdir(), 'ingest-fresh-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const root = join(import.meta.dirname, '..');
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href,
        join(root, 'ingest/main.ts'),
        'migrate',
      ],
      {
        cwd,
        env: { ...process.env, INGEST_SQLITE_PATH: '', DATABASE_URL: '', ENV_FILE: '' },
        timeout: 60_000,
      },
      (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
  t.equal(r.code, 0, r.stderr);
  t.ok(existsSync(join(cwd, 'data/ingest.db')), 'data/ingest.db made');
  // A path someone gave must exist: a typo does not make folders (the test above: exit 1).
});
