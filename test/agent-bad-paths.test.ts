// Bad paths given to the agent's commands, as real processes: an outbox that cannot be opened is
// refused in one line naming the setting, the path and why (exit 1, like the ingest's SQLite file),
// and a --replay that is not a readable file is a usage error (exit 2), as `decode` has it. Under
// systemd's Restart=always a stack trace here would be a restart loop of stack traces.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { SqliteStore } from '../ingest/db/sqlite.js';
import { type Ran, runCommand } from './helpers/run.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/hemi.log');

function tmpDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-bad-paths-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function agent(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const base = { ...process.env };
  delete base['ENV_FILE'];
  delete base['AGENT_DB'];
  delete base['KAFKA_BROKERS'];
  return runCommand(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/main.ts'), ...args], {
    env: { ...base, LOG_LEVEL: 'warn', ...env },
    timeoutMs: 30_000,
  });
}

/** Exactly `line` on stderr, nothing more (no stack trace), and the exit code. */
function refused(t: Test, r: Ran, code: number, line: RegExp, what: string): void {
  t.equal(r.code, code, `${what}: exit ${code}`);
  t.match(r.stderr, line, `${what}: says what and why`);
  t.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line (${JSON.stringify(r.stderr)})`);
  t.notMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
}

const runArgs = ['run', '--device', 'd1', '--replay', FIXTURE, '--speed', '0', '--brokers', '127.0.0.1:1'];

t.test('agent run: an outbox that cannot be opened is one line naming AGENT_DB or --db', async (t) => {
  const dir = tmpDir(t);
  refused(
    t,
    await agent(runArgs, { AGENT_DB: '/nonexistent/dir/o.db' }),
    1,
    /^agent run: cannot open the outbox \/nonexistent\/dir\/o\.db \(AGENT_DB\): the directory \/nonexistent\/dir does not exist\n$/,
    'a missing directory',
  );
  refused(
    t,
    await agent(runArgs, { AGENT_DB: dir }),
    1,
    new RegExp(`^agent run: cannot open the outbox ${dir} \\(AGENT_DB\\): it is a directory\\n$`),
    'a directory',
  );
  refused(
    t,
    await agent(runArgs, { AGENT_DB: '/proc/o.db' }),
    1,
    /^agent run: cannot open the outbox \/proc\/o\.db \(AGENT_DB\): cannot create it in \/proc/,
    'a directory where no file can be created',
  );
  const notDb = join(dir, 'not-a-db');
  writeFileSync(notDb, 'this is not SQLite, but long enough to have a header of sorts\n'.repeat(20));
  refused(
    t,
    await agent([...runArgs, '--db', notDb]),
    1,
    /^agent run: cannot open the outbox .*not-a-db \(--db\): file is not a database\n$/,
    'a file that is not a database, given with --db',
  );
});

t.test('agent status: a directory, a non-SQLite file, a foreign database: one line', async (t) => {
  const dir = tmpDir(t);
  refused(
    t,
    await agent(['status', '--db', dir]),
    1,
    /^agent status: cannot open the outbox .* \(--db\): it is a directory\n$/,
    'a directory',
  );
  const notDb = join(dir, 'not-a-db');
  writeFileSync(notDb, 'this is not SQLite, but long enough to have a header of sorts\n'.repeat(20));
  refused(
    t,
    await agent(['status'], { AGENT_DB: notDb }),
    1,
    /^agent status: cannot open the outbox .*not-a-db \(AGENT_DB\): file is not a database\n$/,
    'a file that is not a database',
  );
  const foreign = join(dir, 'foreign.db');
  const db = new Database(foreign);
  db.exec('CREATE TABLE t (x)');
  db.close();
  refused(
    t,
    await agent(['status', '--db', foreign]),
    1,
    /^agent status: cannot open the outbox .*foreign\.db \(--db\): it is not an agent outbox/,
    "another program's SQLite database",
  );
});

t.test('agent simulate: a bad --db or --replay is one line', async (t) => {
  const dir = tmpDir(t);
  const sim = ['simulate', '--devices', '2', '--duration', '1', '--brokers', '127.0.0.1:1'];
  refused(
    t,
    await agent([...sim, '--db', '/nonexistent/s.db']),
    1,
    /^agent simulate: cannot open the outbox \/nonexistent\/s\.db \(--db\): the directory \/nonexistent does not exist\n$/,
    'a missing directory',
  );
  refused(
    t,
    await agent([...sim, '--db', join(dir, 's.db'), '--replay', '/nonexistent']),
    2,
    /^agent simulate: --replay \/nonexistent is not a readable file\n$/,
    'a missing capture',
  );
  refused(
    t,
    await agent([...sim, '--db', join(dir, 's.db'), '--replay', FIXTURE, '--replay', dir]),
    2,
    /^agent simulate: --replay .* is not a readable file\n$/,
    'a directory as a capture',
  );
  const empty = join(dir, 'empty.nmea');
  writeFileSync(empty, 'no sentences here\n');
  refused(
    t,
    await agent([...sim, '--db', join(dir, 's.db'), '--replay', empty]),
    1,
    /^simulate: .*empty\.nmea has no fixes to replay\n$/,
    'a capture with no fix',
  );
});

t.test('agent run --replay DIR is a usage error, as decode DIR is', async (t) => {
  const dir = tmpDir(t);
  refused(
    t,
    await agent([...runArgs.slice(0, 3), '--replay', dir, '--db', join(dir, 'o.db')]),
    2,
    new RegExp(`^agent run: --replay ${dir} is not a readable file\\n$`),
    'a directory',
  );
  refused(
    t,
    await agent(['decode', dir]),
    2,
    new RegExp(`^agent decode: ${dir} is not a readable file\\n$`),
    'decode, unchanged',
  );
});

/** A long-running agent command; killed at the test's end. Resolves once it holds `db`'s lock. */
async function holding(t: Test, args: string[], db: string): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  delete env['ENV_FILE'];
  delete env['AGENT_DB'];
  delete env['KAFKA_BROKERS'];
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/main.ts'), ...args], {
    env,
    stdio: 'ignore',
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const lock = `${db}.lock`;
  for (let i = 0; i < 300; i++) {
    if (existsSync(lock) && readFileSync(lock, 'utf8').startsWith(`${child.pid}\n`)) return child.pid!;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${args.join(' ')} did not take the lock ${lock}`);
}

t.test('agent simulate takes the outbox lock, as agent run does', async (t) => {
  const dir = tmpDir(t);
  const offline = ['--brokers', '127.0.0.1:1'];
  // A simulator on an outbox an agent runs on: refused, like a second agent.
  const agentDb = join(dir, 'agent.db');
  const agentPid = await holding(
    t,
    ['run', '--device', 'd1', '--replay', FIXTURE, '--loop', '--db', agentDb, ...offline],
    agentDb,
  );
  refused(
    t,
    await agent(['simulate', '--devices', '1', '--db', agentDb, ...offline]),
    1,
    new RegExp(`^agent simulate: the outbox ${agentDb} is in use by agent process ${agentPid}\\n$`),
    'simulate beside a running agent',
  );
  // Two simulators on one file, and an agent beside a simulator: refused too.
  const simDb = join(dir, 'sim.db');
  const simPid = await holding(t, ['simulate', '--devices', '2', '--db', simDb, ...offline], simDb);
  refused(
    t,
    await agent(['simulate', '--devices', '2', '--db', simDb, ...offline]),
    1,
    new RegExp(`^agent simulate: the outbox ${simDb} is in use by agent process ${simPid}\\n$`),
    'a second simulator',
  );
  refused(
    t,
    await agent(['run', '--device', 'd2', '--replay', FIXTURE, '--db', simDb, ...offline]),
    1,
    new RegExp(`^agent run: the outbox ${simDb} is in use by agent process ${simPid}\\n$`),
    'an agent beside a simulator',
  );
});

t.test(
  "agent run on another program's SQLite database (the ingest's) is refused, the file untouched",
  async (t) => {
    const dir = tmpDir(t);
    const ingestDb = join(dir, 'ingest.db');
    const store = new SqliteStore(ingestDb);
    await store.migrate();
    await store.close();
    const tablesOf = () => {
      const db = new Database(ingestDb, { readonly: true });
      const names = (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      )
        .map((r) => r.name)
        .sort();
      db.close();
      return names;
    };
    const before = tablesOf();
    refused(
      t,
      await agent([
        'run',
        '--device',
        'qa-4',
        '--replay',
        FIXTURE,
        '--db',
        ingestDb,
        '--brokers',
        '127.0.0.1:1',
      ]),
      1,
      /^agent run: cannot open the outbox .*ingest\.db \(--db\): it is not an agent outbox: it holds other tables \(devices, fix_minutes, fixes, rejected_devices, rejected_seqs, \.\.\.\)\n$/,
      "the ingest's database",
    );
    t.same(tablesOf(), before, 'no outbox tables created in it');
  },
);
